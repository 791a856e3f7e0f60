"""hydra/launcher=slurm on a real one-node SLURM cluster (`make test-cluster`): sweeps through sbatch, DDP over
two SLURM tasks, a preempted job that is requeued and ends exactly as one that never stopped, a failed job."""

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cluster.slurm import Cluster
from tests.conftest import ROOT, run_cli
from tests.test_sweeps import rows

pytestmark = [pytest.mark.cluster, pytest.mark.usefixtures("slurm")]

QUICK = ["data=digits", "~callbacks.images", "callbacks.progress_bar.refresh_rate=0"]
# What this 2-core node can give a job: one core and 2 GB per task, no GPUs (trainer=cpu and ddp_cpu ask none).
SLURM = ["-m", "hydra/launcher=slurm", "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=2", *QUICK]


def status(job: Path) -> dict:
    return json.loads((job / "status.json").read_text())


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def completions(cluster: Cluster, job_id: str) -> list[str]:
    """The controller's job-completion lines of a (non-array) job: one per allocation it ended."""
    lines = (cluster.folder / "jobcomp.txt").read_text().splitlines()
    return [line for line in lines if line.startswith(f"JobId={job_id} ")]


def test_a_sweep_goes_through_sbatch_and_its_jobs_logs_are_found_from_the_sweep(slurm: Cluster, tmp_path: Path) -> None:
    run_cli("train", *SLURM, "trainer=cpu", "model=mlp,cnn", "trainer.max_epochs=2", f"hydra.sweep.dir={tmp_path}",
            fresh=True)  # fmt: skip
    table = rows(tmp_path)
    assert [(row["job"], row["status"]) for row in table] == [("0_model=mlp", "completed"),
                                                              ("1_model=cnn", "completed")]  # fmt: skip
    array = table[0]["slurm job"].split("_")[0]
    assert [row["slurm job"] for row in table] == [f"{array}_0", f"{array}_1"]  # one array, a task per job
    for row in table:  # submitit's folder per SLURM job: the sbatch output of the job's task 0
        log = tmp_path / ".submitit" / row["slurm job"] / f"{row['slurm job']}_0_log.out"
        assert f"run directory: {tmp_path / row['job']}" in log.read_text()
    ended = [f"ArrayJobId={array} ArrayTaskId={task} " for task in (0, 1)]  # the controller's word, as they end
    wait_for(lambda: all(line in (slurm.folder / "jobcomp.txt").read_text() for line in ended), "both jobs to end")
    assert "| 1_model=cnn | completed |" in (tmp_path / "summary.md").read_text()


def test_ddp_over_two_slurm_tasks_writes_one_run_whose_metrics_equal_a_one_device_eval(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    run_cli("train", *SLURM, "trainer=ddp_cpu", "model=mlp", "data.batch_size=32", "trainer.max_epochs=2",
            f"hydra.sweep.dir={sweep}", fresh=True)  # fmt: skip
    (job,) = (path.parent for path in sweep.glob("*/.hydra"))
    slurm_job = status(job)["slurm_job"]
    folder = sweep / ".submitit" / slurm_job
    logs = sorted(path.name for path in folder.glob("*_log.out"))
    assert logs == [f"{slurm_job}_0_log.out", f"{slurm_job}_1_log.out"]  # two SLURM tasks, one job
    assert "Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2" in (folder / logs[1]).read_text()
    writers = {path.name.split(".")[-2] for path in (job / "tensorboard").glob("events.*")}
    assert len(writers) == 1  # rank 0 alone writes
    run_cli("eval", f"ckpt_path={job / 'checkpoints' / 'best.ckpt'}", f"hydra.run.dir={tmp_path / 'eval'}")
    trained = json.loads((job / "metrics.json").read_text())
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text()) == pytest.approx(trained, abs=1e-6)


def test_a_preempted_job_is_requeued_and_ends_as_if_it_had_never_stopped(
    slurm: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the threads a 1-core SLURM task trains with, for the reference
    run = ["trainer=cpu", "model=mlp", "trainer.max_epochs=30", "seed=3"]
    with open(tmp_path / "sweep.out", "w") as out:
        sweep = subprocess.Popen([sys.executable, "-m", "src.train", *SLURM, *run, f"hydra.sweep.dir={tmp_path}"],
                                 cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    job = tmp_path / "0_defaults"
    wait_for((job / "checkpoints" / "last.ckpt").exists, "the first epoch's last.ckpt")
    slurm_job = status(job)["slurm_job"]
    # What SLURM sends signal_delay_s before the time limit (#SBATCH --signal=USR2@120), and submitit requeues on.
    subprocess.run(["scancel", "--signal=USR2", slurm_job], check=True)
    # SLURM holds a requeued job for 120 s before it may start again; once it waits for that, let it start now.
    pending = ["squeue", "-h", "-j", slurm_job, "-o", "%T %r"]
    wait_for(lambda: slurm.client(*pending) == "PENDING BeginTime", "the job to be requeued")
    subprocess.run(["scontrol", "update", f"JobId={slurm_job}", "StartTime=now"], check=True)
    assert sweep.wait(timeout=600) == 0, (tmp_path / "sweep.out").read_text()[-3000:]
    wait_for(lambda: len(completions(slurm, slurm_job)) == 2, "the second allocation's completion line")
    first, second = completions(slurm, slurm_job)
    assert "JobState=PENDING" in first and "JobState=COMPLETED" in second  # requeued, then done
    assert status(job)["status"] == "completed" and status(job)["slurm_restarts"] == 1
    log = (tmp_path / ".submitit" / slurm_job / f"{slurm_job}_0_log.out").read_text()
    assert log.count(f"Starting with JobEnvironment(job_id={slurm_job},") == 2
    assert f"Restoring states from the checkpoint path at {job / 'checkpoints' / 'last.ckpt'}" in log

    reference = tmp_path / "uninterrupted"
    run_cli("train", *QUICK, *run, f"hydra.run.dir={reference}", fresh=True)
    assert json.loads((job / "metrics.json").read_text()) == json.loads((reference / "metrics.json").read_text())


def test_a_failed_job_is_listed_with_its_error_and_fails_the_sweep(tmp_path: Path) -> None:
    result = run_cli("train", *SLURM, "trainer=cpu", "model=mlp", "debug=fdr", "optimizer.lr=0.01,0",
                     f"hydra.sweep.dir={tmp_path}", check=False, fresh=True)  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    table = rows(tmp_path)
    assert [row["status"] for row in table] == ["completed", "failed"]
    assert table[1]["error"] == "optimizer.lr must be > 0, got 0"
    assert "1_lr=0: failed: optimizer.lr must be > 0, got 0" in (tmp_path / "summary.md").read_text()
    logs = tmp_path / ".submitit" / table[1]["slurm job"]
    assert "error: optimizer.lr must be > 0, got 0" in (logs / f"{table[1]['slurm job']}_0_log.err").read_text()
