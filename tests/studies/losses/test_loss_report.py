"""The loss study's plain code: the same folds as the runs for the baselines, and the report on job directories
written by hand. The study itself (`make loss-study`) is checked end to end by test_loss_study.py (slow)."""

import csv
import json
from pathlib import Path

import numpy as np
from hydra.utils import instantiate
from sklearn.datasets import load_wine

from src.data.tables import fold_indices
from tests.conftest import compose_config
from tests.studies.losses import report, study
from tests.studies.losses.baselines import fold_split


def test_the_baselines_fit_and_score_the_very_rows_and_scaling_of_the_study_runs(tmp_path: Path) -> None:
    wine = next(s for s in study.STUDIES if s.name == "wine")
    command = study.sweep(wine, ["cce", "hinge"], tmp_path, quick=False)  # the multirun's command line
    labels = load_wine().target
    for fold in (0, 3):
        job = [o for o in command if not o.startswith(("hydra.", "data.fold=", "loss="))]
        served = instantiate(compose_config("train", *job, "loss=hinge", f"data.fold={fold}").data)
        served.setup()
        x, _, test_x, test_y = fold_split([*study.data_overrides(wine, quick=False), f"data.fold={fold}"])
        train, val, test = (served.splits[s].tensors for s in ("train", "val", "test"))
        assert np.array_equal(x, np.concatenate([train[0].numpy(), val[0].numpy()]))  # same rows, same scaling
        assert np.array_equal(test_x, test[0].numpy()) and np.array_equal(test_y, test[1].numpy())
        # ... and they are the project's own fold (StratifiedKFold, shuffled by data.seed 0), row for row.
        assert np.array_equal(test_y, labels[fold_indices(labels, 5, fold, seed=0, stratify=True)[1]])


def fake_job(job: Path, status: str, metrics: dict[str, float], fit: float = 2.0) -> None:
    """What src.train leaves in a job directory, as the sweep summary reads it."""
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("[]\n")
    (job / "status.json").write_text(
        json.dumps({"status": status, "fit_seconds": fit, "error": "boom" * (status != "completed")})
    )
    if status == "completed":
        (job / "metrics.json").write_text(json.dumps(metrics))


def test_the_report_has_a_row_per_problem_and_loss_with_refusals_failures_and_baselines(tmp_path: Path) -> None:
    tables = study.Study("breast_cancer", "breast_cancer", losses=("bce", "hinge", "cce"), folds=True)
    images = study.Study("fashion_seg", "fashion_seg", losses=("dice",))
    for fold, accuracy in enumerate((0.9, 1.0)):
        fake_job(
            tmp_path / "breast_cancer" / f"bce_fold{fold}", "completed", {"test/acc": accuracy, "test/auroc": 0.99}
        )
    fake_job(tmp_path / "breast_cancer" / "hinge_fold0", "completed", {"test/acc": 0.95}, fit=4.0)
    fake_job(tmp_path / "breast_cancer" / "hinge_fold1", "failed", {})
    fake_job(tmp_path / "fashion_seg" / "dice", "completed", {"test/miou": 0.5})
    fits = {"fits": True, "reason": "", "budget": "40 epochs", "model": "mlp"}
    verdicts = {
        "breast_cancer": {"bce": fits, "hinge": fits, "cce": {**fits, "fits": False, "reason": "cce needs C >= 2"}},
        "fashion_seg": {"dice": {**fits, "model": "unet", "budget": "1 epochs"}},
    }
    logistic = {"study": "breast_cancer", "mean": 0.98, "std": 0.01, "n": 2, "loss": "(scikit-learn)", "model": "LR"}
    baselines = {"breast_cancer": [{**dict.fromkeys(report.COLUMNS, ""), **logistic}]}
    rows = report.write(tmp_path, tmp_path / "results", [tables, images], verdicts, baselines, study.GENERATIVE, 3.0)
    assert [(row["study"], row["loss"]) for row in rows] == [
        ("breast_cancer", "bce"), ("breast_cancer", "hinge"), ("breast_cancer", "cce"),
        ("breast_cancer", "(scikit-learn)"), ("fashion_seg", "dice"), ("generative", "elbo (KL term)"),
    ]  # fmt: skip
    with open(tmp_path / "results" / "results.csv") as file:
        bce, hinge, cce, *_ = list(csv.DictReader(file))
    assert (bce["mean"], bce["std"], bce["n"], bce["fit_s"]) == ("0.95", "0.05", "2", "2.0")
    assert bce["note"] == "test/auroc 0.99 ± 0" and bce["metric"] == "test/acc"
    assert hinge["n"] == "1" and "hinge_fold1: failed boom" in hinge["note"]  # a failed job is said, not dropped
    assert cce["mean"] == "" and cce["note"] == "does not fit: cce needs C >= 2"
    markdown = (tmp_path / "results" / "results.md").read_text()
    assert "| breast_cancer | mlp | `bce` | test/acc | **0.9500** ± 0.0500 | 2 | 2.0 | 40 epochs |" in markdown
    assert "| fashion_seg | unet | `dice` | test/miou | **0.5000** | 1 |" in markdown
    assert "README#generative" in markdown and "study wall time: 3.0 min" in markdown
    assert (tmp_path / "results" / "metric_by_loss.png").stat().st_size > 10_000
