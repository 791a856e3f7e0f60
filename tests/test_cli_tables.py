"""data=table through the real CLI with nothing counted: the feature count, classes and task come from the file;
predict reads the fitted preprocessing from the checkpoint, not the training file; mistakes are one line."""

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from tests.conftest import run_cli

QUICK = ["data=table", "trainer.max_epochs=2", "~callbacks.images", "callbacks.progress_bar.refresh_rate=0"]


def write_shop(path: Path, rows: int = 160) -> Path:
    """Numbers, a text column, and three targets: species (3 names), price (real numbers), sold (yes/no)."""
    rng = np.random.default_rng(0)
    x1, x2 = rng.normal(size=(2, rows))
    colour = rng.choice(["red", "green", "blue"], rows)
    species = np.where(x1 < -0.4, "oak", np.where(x1 < 0.4, "elm", "ash"))
    price = 50 + 10 * x1 - 5 * x2 + 3 * (colour == "red") + rng.normal(0, 1, rows)
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["id", "x1", "x2", "colour", "species", "price", "sold"])
        for index in range(rows):
            sold = "yes" if x2[index] > 0 else "no"
            writer.writerow([index, x1[index], x2[index], colour[index], species[index], f"{price[index]:.3f}", sold])
    return path


def targets_but(target: str) -> str:
    return "data.drop=[id," + ",".join(name for name in ("species", "price", "sold") if name != target) + "]"


@pytest.mark.parametrize(
    ("target", "task", "metric", "classes"),
    [
        ("species", None, "test/acc", ["ash", "elm", "oak"]),  # text: classification, the default task
        ("price", "regression", "test/r2", []),  # real numbers
        ("sold", "binary", "test/auroc", ["no", "yes"]),  # two names
    ],
)
def test_a_csv_trains_with_nothing_counted_and_the_task_follows_the_target(
    tmp_path: Path, target: str, task: str | None, metric: str, classes: list[str]
) -> None:
    path = write_shop(tmp_path / "shop.csv")
    run = tmp_path / "run"
    result = run_cli("train", *QUICK, f"data.path={path}", f"data.target={target}", targets_but(target),
                     f"hydra.run.dir={run}")  # fmt: skip
    assert "column(s) colour hold text, so each is one-hot encoded" in result.stdout
    overrides = [str(o) for o in OmegaConf.load(run / ".hydra" / "overrides.yaml")]
    assert [o for o in overrides if o.startswith("task=")] == ([f"task={task}"] if task else [])
    data = OmegaConf.load(run / ".hydra" / "config.yaml").data  # the file's facts, saved resolved
    assert data.num_features == 5 and list(data.class_names) == classes  # x1, x2 and three colours
    assert metric in json.loads((run / "metrics.json").read_text())


def test_predict_takes_the_preprocessing_from_the_checkpoint_not_the_training_file(tmp_path: Path) -> None:
    path = write_shop(tmp_path / "shop.csv")
    run = tmp_path / "run"
    run_cli("train", *QUICK, f"data.path={path}", "data.target=price", targets_but("price"), f"hydra.run.dir={run}")
    new = tmp_path / "new.csv"
    lines = path.read_text().splitlines()
    new.write_text("\n".join([lines[0], *lines[1:11], lines[11].replace(",red,", ",violet,")]) + "\n")
    ckpt = f"ckpt_path={run / 'checkpoints' / 'best.ckpt'}"
    before = run_cli("predict", ckpt, f"input={new}", f"output={tmp_path / 'before'}")
    assert "column 'colour': 1 row(s) hold values training never met (violet)" in before.stdout
    shutil.move(path, tmp_path / "moved.csv")
    after = run_cli("predict", ckpt, f"input={new}", f"output={tmp_path / 'after'}")
    assert "reading the run's training" not in after.stdout
    written = [(tmp_path / folder / "predictions.csv").read_text() for folder in ("before", "after")]
    assert written[0] == written[1] and written[0].splitlines()[0].endswith(",predicted_price")
    assert len(written[0].splitlines()) == 12


def one_line_error(*overrides: str) -> str:
    result = run_cli("train", *QUICK, *overrides, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    return line


def test_mistakes_with_ones_own_table_are_one_line(tmp_path: Path) -> None:
    path = write_shop(tmp_path / "shop.csv", rows=60)
    out = f"hydra.run.dir={tmp_path / 'out'}"
    line = one_line_error(f"data.path={path}", "data.target=species", targets_but("species"), "task=regression", out)
    assert "shop.csv column 'species' holds text ('elm', line 2), which task=regression cannot learn" in line
    assert line.endswith("use task=classification (HYDRA_FULL_ERROR=1 shows the traceback)")
    line = one_line_error(f"data.path={path}", "data.target=price", targets_but("price"), "data.val_size=50", out)
    assert "data.val_size=50 leaves no training rows: 48 of the table's 60 rows are outside the test fold" in line
    line = one_line_error(f"data.path={path}", "data.target=price", targets_but("price"), "data.num_features=9", out)
    assert "data.num_features=9 but the table has 5 features once encoded; set data.num_features=5" in line
