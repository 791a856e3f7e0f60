"""The loss study end to end on its tiny budgets (`--quick`, about 2 minutes on this 2-core CPU; `make test-slow`).

Needs Fashion-MNIST. The full study (`make loss-study`, about half an hour) is no test: its figures are the README's.
"""

import csv
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]


def test_the_quick_study_trains_every_fitting_loss_and_reports_every_refusal(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "tests.studies.losses.study", "--quick", "--out", str(tmp_path)]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    with open(tmp_path / "results.csv") as file:
        rows = {(row["study"], row["model"] if row["loss"] == "(scikit-learn)" else row["loss"]): row
                for row in csv.DictReader(file)}  # fmt: skip
    refused = {key for key, row in rows.items() if row["note"].startswith("does not fit")}
    assert {("diabetes", "bce"), ("breast_cancer", "cce"), ("fashion_multilabel_1min", "cce")} <= refused
    assert ("fashion_boxes", "mse") not in refused and ("wine", "cce") not in refused
    trained = [row for key, row in rows.items() if key not in refused and row["loss"] != "elbo (KL term)"]
    assert all(row["mean"] != "" for row in trained), [row for row in trained if row["mean"] == ""]
    assert rows["wine", "cce"]["n"] == rows["wine", "LogisticRegression"]["n"] == "2"  # the quick run's 2 folds
    assert (tmp_path / "metric_by_loss.png").is_file()
