"""Sweeps one can compare: short job names, a summary even with a failed job, a search, parallel and submitit
launchers, all through the real CLI on the digits (seconds per job). The SLURM launcher on a real cluster:
tests/cluster/ (`make test-cluster`)."""

import csv
import json
import math
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from src.run.slurm import requeued_checkpoint
from src.summarize import summarize
from tests.conftest import run_cli

QUICK = ["data=digits", "debug=fdr"]


def rows(sweep: Path) -> list[dict[str, str]]:
    with open(sweep / "summary.csv") as file:
        return list(csv.DictReader(file))


def test_a_2x2_sweep_names_jobs_by_what_differs_and_summarises_them(tmp_path: Path) -> None:
    run_cli("train", "-m", *QUICK, "~callbacks.images", "model=mlp,cnn", "optimizer.lr=0.01,0.003",
            f"hydra.sweep.dir={tmp_path}")  # fmt: skip
    jobs = sorted(p.name for p in tmp_path.iterdir() if p.is_dir())
    assert jobs == ["0_model=mlp,lr=0.01", "1_model=mlp,lr=0.003", "2_model=cnn,lr=0.01", "3_model=cnn,lr=0.003"]
    table = rows(tmp_path)
    assert [row["job"] for row in table] == jobs and {row["status"] for row in table} == {"completed"}
    assert all(0 <= float(row["test/acc"]) <= 1 for row in table)
    assert "| 2_model=cnn,lr=0.01 | completed |" in (tmp_path / "summary.md").read_text()


def test_a_failed_job_is_listed_with_its_error_and_fails_the_sweep(tmp_path: Path) -> None:
    result = run_cli("train", "-m", *QUICK, "model=mlp,unet", f"hydra.sweep.dir={tmp_path}", check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    table = rows(tmp_path)
    assert [row["status"] for row in table] == ["completed", "failed"]
    assert table[1]["error"].startswith("model=unet outputs (10, 8, 8) per sample")
    assert "1_model=unet: failed: model=unet outputs" in (tmp_path / "summary.md").read_text()


def test_summarize_rebuilds_the_summary_of_an_interrupted_sweep(tmp_path: Path) -> None:
    for number, status in enumerate(["completed", "running"]):  # the second one's process is long gone
        job = tmp_path / f"{number}_lr={number}"
        (job / ".hydra").mkdir(parents=True)
        OmegaConf.save(OmegaConf.create([f"optimizer.lr={number}"]), job / ".hydra" / "overrides.yaml")
        record = {"status": status, "started": "2026-01-01 00:00:00", "time": "2026-01-01 00:01:40", "pid": 2**22}
        (job / "status.json").write_text(json.dumps({**record, "host": __import__("socket").gethostname()}))
    (tmp_path / "0_lr=0" / "metrics.json").write_text(json.dumps({"test/acc": 0.5, "test/iou/cat": 0.1}))
    (tmp_path / "2_lr=2" / ".hydra").mkdir(parents=True)  # created, never started
    result = run_cli("summarize", str(tmp_path))
    assert "| 0_lr=0 | completed | optimizer.lr=0 | 0.5 |" in result.stdout
    assert [row["status"] for row in summarize(tmp_path)] == ["completed", "interrupted", "not started"]
    assert rows(tmp_path)[0]["wall time (s)"] == "100" and "test/iou/cat" not in rows(tmp_path)[0]


def test_the_optuna_search_runs_trials_and_reports_the_best(tmp_path: Path) -> None:
    run_cli("train", "-m", "hparams_search=cnn_optuna", "hydra.sweeper.n_trials=3", "data=digits",
            "trainer.max_epochs=1", "trainer.limit_train_batches=4", f"hydra.sweep.dir={tmp_path}")  # fmt: skip
    results = OmegaConf.load(tmp_path / "optimization_results.yaml")
    table = rows(tmp_path)
    assert len(table) == 3 and all(row["job"].split("_", 1)[1].startswith("lr=") for row in table)
    best = max(float(row["val/acc (best)"]) for row in table)
    assert math.isclose(results.best_value, best, rel_tol=1e-6) and "optimizer.lr" in results.best_params


# 27 s of new interpreters that kept `make test` past 5 minutes: in `make test-slow`; submitit's SLURM path runs
# for real in `make test-cluster`.
@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["joblib", "submitit_local"])
def test_launchers_run_the_jobs_in_other_processes(launcher: str, tmp_path: Path) -> None:
    run_cli("train", "-m", f"hydra/launcher={launcher}", *QUICK, "model=mlp,cnn", f"hydra.sweep.dir={tmp_path}")
    assert [(row["job"], row["status"]) for row in rows(tmp_path)] == [
        ("0_model=mlp", "completed"),
        ("1_model=cnn", "completed"),
    ]


def test_the_slurm_launcher_without_slurm_says_so_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch, no srun
    result = run_cli("train", "-m", "hydra/launcher=slurm", *QUICK, f"hydra.sweep.dir={tmp_path / 'sweep'}",
                     check=False, fresh=True)  # fmt: skip
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: hydra/launcher=slurm submits every job with SLURM's sbatch and srun;")
    assert "or with hydra/launcher=submitit_local" in result.stderr


def test_a_requeued_slurm_job_goes_on_from_its_last_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SLURM_JOB_ID", "SLURM_RESTART_COUNT"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "checkpoints").mkdir()
    assert requeued_checkpoint(tmp_path) is None  # not a SLURM job
    monkeypatch.setenv("SLURM_JOB_ID", "7")
    (tmp_path / "checkpoints" / "last.ckpt").touch()
    assert requeued_checkpoint(tmp_path) is None  # its first allocation starts afresh
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    assert requeued_checkpoint(tmp_path) == str(tmp_path / "checkpoints" / "last.ckpt")
