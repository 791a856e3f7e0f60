"""experiment=transfer_check: the three arms run through the real CLI on one's own folder, and the report's verdict."""

import json
from pathlib import Path

from src.run.transfer_check import verdict, write_report
from tests.conftest import run_cli
from tests.image_folders import write_class_folders


def write_arm(sweep: Path, arm: str, accuracy: float, seconds: float, train: float, val: float) -> None:
    (sweep / arm).mkdir(parents=True)
    (sweep / arm / "metrics.json").write_text(json.dumps({"test/acc": accuracy, "test/f1": accuracy - 0.01}))
    status = {"status": "completed", "fit_seconds": seconds, "epochs": 3, "images_per_second": 100.0,
              "last_epoch": {"train/acc": train, "val/acc": val}}  # fmt: skip
    (sweep / arm / "status.json").write_text(json.dumps(status))


def test_the_verdict_names_the_best_arm_against_scratch_in_points_and_time(tmp_path: Path) -> None:
    write_arm(tmp_path, "scratch", 0.80, 10.0, 0.95, 0.81)
    write_arm(tmp_path, "frozen", 0.78, 4.0, 0.80, 0.79)
    write_arm(tmp_path, "finetuned", 0.881, 23.0, 0.99, 0.88)
    text = write_report(tmp_path)
    assert text.endswith("transfer helps here: finetuned: +8.1 points over scratch at 2.3x the time\n")
    assert "| scratch | 80 | 79 | 14 | 3 | 10 | 100 | completed |" in text  # gap: 95 - 81 points
    assert (tmp_path / "check.md").read_text() == text
    rows = [{"arm": "scratch", "test accuracy (%)": 90.0, "fit time (s)": 10.0},
            {"arm": "frozen", "test accuracy (%)": 85.5, "fit time (s)": 5.0}]  # fmt: skip
    expected = "transfer does not help here: the best, frozen, is 4.5 points behind scratch at 0.5x the time"
    assert verdict(rows) == expected
    assert verdict(rows[:1]).startswith("no verdict")


def test_the_check_runs_its_three_arms_on_ones_folder(tmp_path: Path) -> None:
    images = write_class_folders(tmp_path / "images", train=12, test=4)
    quick = ["check.scratch_epochs=1", "check.frozen_epochs=1", "check.finetuned_epochs=2",
             "check.finetuned_frozen_epochs=1", "check.input_size=32"]  # fmt: skip
    result = run_cli("train", "-m", "experiment=transfer_check", f"data.data_dir={images}", *quick,
                     "data.batch_size=16", "~callbacks.images", f"hydra.sweep.dir={tmp_path / 'sweep'}")  # fmt: skip
    report = (tmp_path / "sweep" / "check.md").read_text()
    for arm in ("scratch", "frozen", "finetuned"):
        assert f"| {arm} |" in report and (tmp_path / "sweep" / arm / "metrics.json").is_file()
    assert report.splitlines()[-1] in result.stdout and report.splitlines()[-1].startswith("transfer ")
