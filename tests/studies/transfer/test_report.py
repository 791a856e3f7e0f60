"""The study's report on run directories written by hand: rows, shared scratch runs, the table, gaps, plots.

The study itself (`make transfer-study`, 17 minutes here) is checked by test_transfer_study.py (slow).
"""

import csv
import json
from pathlib import Path

import pytest
from torch.utils.tensorboard import SummaryWriter

from tests.studies.transfer import report, study


def fake_run(run: Path, accuracy: float, epochs: int = 2) -> None:
    """metrics.json, and TensorBoard events as src.train writes them (train/loss per step, train/acc per epoch)."""
    run.mkdir(parents=True)
    (run / "metrics.json").write_text(json.dumps({"test/acc": accuracy}))
    writer = SummaryWriter(str(run / "tensorboard"))
    for epoch in range(epochs):
        writer.add_scalar("train/loss", 1.0, 10 * epoch)
        writer.add_scalar("train/acc", 0.5, 10 * epoch + 9)
    writer.close()


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    accuracies = {"in-domain": {"finetune": 0.9, "scratch": 0.8, "freeze": 0.7, "gradual": 0.85},
                  "dissimilar": {"finetune": 0.82, "freeze": 0.5, "gradual": 0.8}}  # fmt: skip
    for pair, by_strategy in accuracies.items():
        for strategy, accuracy in by_strategy.items():
            for fraction in ("0.01", "1"):
                for seed in (1, 2):
                    fake_run(tmp_path / pair / fraction / f"{strategy}_{seed}", accuracy + 0.02 * (seed - 1.5))
    return tmp_path


def test_the_report_reads_every_run_and_shares_scratch_between_the_cnn_pairs(runs: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    report.write(runs, results, minutes=12.5)
    with open(results / "results.csv") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == (4 + 3 + 1) * 2 * 2  # dissimilar borrows in-domain's scratch runs
    assert {row["pair"] for row in rows if row["strategy"] == "scratch"} == {"in-domain", "dissimilar"}
    markdown = (results / "results.md").read_text()
    assert "| in-domain | finetune | 90.00 | 90.00 |" in markdown  # the mean over the two seeds
    assert (
        "- in-domain, 1% of the target data, vs scratch: finetune +10.00, gradual +5.00, freeze -10.00 points"
        in markdown
    )
    assert "- dissimilar, 1% of the target data, vs scratch: finetune +2.00" in markdown
    assert "study wall time: 12.5 min" in markdown
    assert (results / "accuracy_vs_fraction.png").stat().st_size > 10_000
    assert (results / "accuracy_vs_time.png").stat().st_size > 10_000
    assert list((runs / "tensorboard").glob("events.out.tfevents.*"))


def test_every_fraction_trains_the_same_epochs_with_few_steps_for_little_data() -> None:
    plans = {f: study.schedule(round(29_500 * f), 64, 10, 50) for f in study.FRACTIONS}
    assert [plan["per_epoch"] for plan in plans.values()] == [4, 23, 50, 50]
    assert {plan["gradual_k"] for plan in plans.values()} == {3}


def test_the_sweeps_cover_every_pair_strategy_and_fraction(tmp_path: Path) -> None:
    checkpoints = {name: tmp_path / f"{name}.ckpt" for name in study.SOURCES}
    for pair, spec in study.PAIRS.items():
        sweeps = [sweep for fraction in study.target_sweeps(pair, tmp_path, checkpoints) for sweep in fraction]
        runs = {
            (f, s)
            for sweep in sweeps
            for f in _values(sweep, "data.train_fraction")
            for s in _values(sweep, "transfer")
        }
        assert runs == {(str(f), s) for f in study.FRACTIONS for s in spec["strategies"]}, pair
        for sweep in sweeps:  # Lite0's scratch runs from random weights, the others from ImageNet's
            pretrained = "model.weights=package" in sweep
            assert pretrained == (pair == "pretrained" and sweep[-1] != "transfer=scratch")


def _values(sweep: list[str], key: str) -> list[str]:
    return [value for option in sweep if option.startswith(f"{key}=") for value in option.split("=", 1)[1].split(",")]
