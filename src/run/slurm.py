"""Runs under SLURM: which job a run is, where a requeued job continues, and a launcher that cannot reach SLURM.

Imports nothing heavy: the launcher check runs in the sweep's own process before any job is submitted.
"""

import os
import shutil
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


def slurm_job() -> dict[str, Any]:
    """{"slurm_job": "12_0", "slurm_restarts": 1} inside a SLURM job (an array task as <array id>_<index>, the
    name of its folder under the sweep's .submitit/), {} outside one."""
    if "SLURM_JOB_ID" not in os.environ:
        return {}
    array = os.environ.get("SLURM_ARRAY_JOB_ID")
    job = f"{array}_{os.environ['SLURM_ARRAY_TASK_ID']}" if array else os.environ["SLURM_JOB_ID"]
    return {"slurm_job": job, "slurm_restarts": int(os.environ.get("SLURM_RESTART_COUNT", 0))}


def requeued_checkpoint(run: str | Path) -> str | None:
    """The checkpoint a requeued SLURM job continues from: its run's last.ckpt, when SLURM has restarted the job
    (preempted, or requeued on submitit's time-limit signal) in the same directory with the same config.

    last.ckpt is written at the end of an epoch, with the random generators, so the run goes on as if it had
    never stopped; the epoch that was cut short is trained again.
    """
    last = Path(run) / "checkpoints" / "last.ckpt"
    return str(last) if slurm_job().get("slurm_restarts") and last.is_file() else None


class SlurmLauncherCheck(Callback):
    """Hydra callback (conf/hydra/default.yaml): a sweep on hydra/launcher=slurm where SLURM's commands are
    missing stops with one line that says how to run it here, instead of submitit's traceback."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if not str(config.hydra.launcher.get("_target_", "")).endswith("SlurmLauncher"):
            return
        if missing := [command for command in ("sbatch", "srun") if shutil.which(command) is None]:
            print(
                f"error: hydra/launcher=slurm submits every job with SLURM's sbatch and srun; {' and '.join(missing)} "
                "not found on this machine's PATH: run the sweep from a cluster's login node, or here without "
                "hydra/launcher=slurm (or with hydra/launcher=submitit_local)",
                file=sys.stderr,
            )
            sys.exit(1)
