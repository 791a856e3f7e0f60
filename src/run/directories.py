"""Run directories: continuing one (resume=), scoring one from its own config, and the status it leaves.

Imports nothing heavy: the command line is rewritten before Hydra composes, and statuses are written even when
a config is refused before torch loads.
"""

import json
import os
import re
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import InterpolationResolutionError

from src.run.slurm import slurm_job

CONF = Path(__file__).resolve().parents[2] / "conf"
# What a run is: the parts of its saved config that src.eval and resume= rebuild it from.
RUN_NODES = ("data", "model", "loss", "task")
# Resolvers whose value would be another in a later process: the job's directories and choices, the time, and
# what the data's files said (they may have moved or changed since).
RUN_TIME = re.compile(r"\$\{(hydra|now|run_label|job_label|survey):")


def fail(message: str) -> None:
    """A user's mistake found before Hydra runs: one line on stderr, exit code 1."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


def _key(override: str) -> str:
    """'+data.batch_size=3' -> 'data.batch_size'; '~callbacks.images' -> 'callbacks.images'."""
    return override.split("=", 1)[0].lstrip("+~")


def _groups() -> set[str]:
    return {path.name for path in CONF.iterdir() if path.is_dir()}


def resume_arguments(argv: list[str]) -> list[str]:
    """argv with `resume=<run dir>` replaced by what continues that run in its own directory: its saved config
    as the primary config and its last checkpoint. Other key=value overrides apply on top; choosing another
    option of a group (model=mlp) is refused, since the checkpoint belongs to the run's own choices.
    """
    given = [arg for arg in argv[1:] if arg.startswith("resume=")]
    if not given:
        return argv
    run = Path(given[-1].split("=", 1)[1]).expanduser().resolve()
    config = run / ".hydra" / "config.yaml"
    checkpoint = run / "checkpoints" / "last.ckpt"
    if not config.is_file():
        fail(f"resume={run}: no run there ({config} is missing); pass a directory that src.train wrote")
    if not checkpoint.is_file():
        fail(f"resume={run}: {checkpoint} is missing (the run stopped before its first epoch ended); start it again")
    rest = [arg for arg in argv[1:] if not arg.startswith("resume=")]
    if changed := [arg for arg in rest if "=" in arg and _key(arg) in _groups()]:
        fail(
            f"resume keeps the run's own choices, so {changed[0]} cannot change; key=value overrides such as "
            "trainer.max_epochs=12 apply on top (start a new run for other choices)"
        )
    return [
        argv[0],
        "--config-dir", str(config.parent),  # conf/resume.yaml: this config.yaml and the project's hydra settings
        "--config-name", "resume",
        f"hydra.run.dir={run}",
        f"paths.output_dir={run}",  # the saved config holds where the run was written: a moved run resumes here
        "hydra.output_subdir=.hydra/resume",  # keep the run's own .hydra/ as it was
        f"+ckpt_path={checkpoint}",  # train.py continues from it
        *rest,
    ]  # fmt: skip


class ResolvedConfig(Callback):
    """Hydra callback: the job's saved .hydra/config.yaml holds what its ${hydra:...} and ${now:...} values were
    in this job (e.g. transfer.source_ckpt: ${hydra:sweep.dir}/source/... as the sweep's real directory), so that
    src.eval and resume= rebuild the run as it was; every other interpolation stays, so overrides still flow."""

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        if config.hydra.output_subdir is None:
            return
        path = Path(config.hydra.runtime.output_dir) / config.hydra.output_subdir / "config.yaml"
        # What Hydra saved (the config less `hydra`, interpolations unresolved), built here rather than read back:
        # every task of a multi-task SLURM job saves that file at once, so a read could meet another's half-write.
        saved = OmegaConf.masked_copy(config, [key for key in config if key != "hydra"])
        for key in list(_run_time_keys(OmegaConf.to_container(saved, resolve=False))):
            try:
                value = OmegaConf.select(config, key)
            except InterpolationResolutionError:  # files of src.eval's or src.predict's data that have moved: the
                continue  # run's saved values stand in for them (with_saved_run), so this job's may stay unresolved
            OmegaConf.update(saved, key, OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value)
                             else value, merge=False)  # fmt: skip
        partial = path.with_name(f".config.yaml.{os.getpid()}.tmp")  # each task writes whole and renames
        OmegaConf.save(saved, partial)
        os.replace(partial, path)


def _run_time_keys(node: Any, path: str = "") -> Iterator[str]:
    """The dotted keys of a plain config tree whose values use a RUN_TIME resolver."""
    if isinstance(node, str) and RUN_TIME.search(node):
        yield path
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for name, child in children:
        yield from _run_time_keys(child, f"{path}.{name}" if path else str(name))


def check_output_dirs(argv: list[str]) -> None:
    """Create hydra.run.dir / hydra.sweep.dir as Hydra would, but refuse one that cannot be created in one line
    (Hydra would print a traceback)."""
    given = [arg for arg in argv[1:] if arg.startswith(("hydra.run.dir=", "hydra.sweep.dir=")) and "${" not in arg]
    for override in OverridesParser.create().parse_overrides(given):  # Lightning's DDP quotes the value
        try:
            Path(str(override.value())).expanduser().mkdir(parents=True, exist_ok=True)
        except OSError as error:
            fail(f"{override.key_or_group}={override.value()} cannot be created ({error.strerror}); "
                 "choose a directory you may write to")  # fmt: skip


def run_directory(checkpoint: str) -> Path | None:
    """The run directory a checkpoint belongs to (<run>/checkpoints/x.ckpt), if it has its saved config."""
    run = Path(checkpoint).expanduser().resolve().parent.parent
    return run if (run / ".hydra" / "config.yaml").is_file() else None


def eval_arguments(argv: list[str]) -> list[str]:
    """argv for src.eval with the overrides the checkpoint's run was trained with put first, so that the
    eval config composes as that run did (its task, pictures, model and data); the user's overrides win."""
    checkpoints = [arg.split("=", 1)[1] for arg in argv[1:] if arg.startswith("ckpt_path=")]
    run = run_directory(checkpoints[-1]) if checkpoints else None
    if run is None:
        return argv
    given = {_key(arg) for arg in argv[1:] if "=" in arg or arg.startswith("~")}
    trained = [str(o) for o in OmegaConf.load(run / ".hydra" / "overrides.yaml")]
    kept = [o for o in trained if not _overridden(_key(o), given) and not o.startswith(("hydra.", "ckpt_path="))]
    return [argv[0], *kept, *argv[1:]]


def _overridden(key: str, given: set[str]) -> bool:
    """Whether the user's overrides set `key` or a node above it (data=mnist covers data.batch_size)."""
    return any(key == user or key.startswith(f"{user}.") for user in given)


def with_saved_run(cfg: DictConfig, overrides: list[str]) -> DictConfig:
    """The eval config with the run's data, model, loss and task exactly as its saved config has them, unless
    the user overrode them: a group choice (data=mnist) keeps the composed node, key=value overrides apply on
    top of the saved one."""
    run = run_directory(cfg.ckpt_path)
    if run is None:
        return cfg
    saved = OmegaConf.load(run / ".hydra" / "config.yaml")
    trained = {str(o) for o in OmegaConf.load(run / ".hydra" / "overrides.yaml")}  # eval_arguments put them first
    given = [_key(o) for o in overrides if not o.startswith("~") and o not in trained]
    for node in RUN_NODES:
        if node in given or node not in saved:
            continue
        on_top = {key: OmegaConf.select(cfg, key) for key in given if key.startswith(f"{node}.")}
        OmegaConf.update(cfg, node, saved[node], merge=False)
        for key, value in on_top.items():
            OmegaConf.update(cfg, key, value, force_add=True)
    return cfg


def threads_per_job() -> int | None:
    """Torch threads for this job when jobs run side by side: under SLURM the cores it gave each task (where
    tasks are not bound to cores, torch would start one thread per core of the node), with the joblib launcher
    the cores divided by the jobs, so that they share the machine instead of fighting over it; None when
    nothing needs dividing or OMP_NUM_THREADS already says. (Lightning divides the cores among DDP processes
    itself.)"""
    if "OMP_NUM_THREADS" in os.environ:
        return None
    if "SLURM_CPUS_PER_TASK" in os.environ:
        return int(os.environ["SLURM_CPUS_PER_TASK"])
    if not HydraConfig.initialized():
        return None
    launcher = HydraConfig.get().launcher
    if "joblib" not in str(launcher.get("_target_", "")):
        return None
    cores = os.cpu_count() or 1
    jobs = launcher.get("n_jobs") or -1
    jobs = cores if jobs < 0 or jobs > cores else jobs  # joblib's -1: one job per core
    return max(1, cores // jobs)


def is_rank_zero() -> bool:
    """True unless this process is a non-zero rank of a distributed run (torchrun, Lightning, SLURM)."""
    return all(int(os.environ.get(name, 0)) == 0 for name in ("RANK", "LOCAL_RANK", "SLURM_PROCID"))


def write_status(run: str | Path, status: str, **details: Any) -> None:
    """`<run>/status.json`: "running", "completed", "failed" (with the error line) or "interrupted", with the
    time it started and the time of this status, and under SLURM the job's id and restarts; what a human and the
    sweep summary read to tell a finished run from a dead one. Rank 0 only."""
    if not is_rank_zero():
        return
    path = Path(run) / "status.json"
    now = time.strftime("%Y-%m-%d %H:%M:%S")
    started = now if status == "running" else _previous(path).get("started", now)
    record = {"status": status, "started": started, "time": now, **details, **slurm_job()}
    if status == "running":  # a "running" run whose process is gone was killed
        record |= {"pid": os.getpid(), "host": socket.gethostname()}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name("status.json.tmp")
    partial.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(partial, path)


def started_here(run: str | Path) -> bool:
    """Whether this process owns the run's status: it has none yet, or this process wrote "running"."""
    previous = _previous(Path(run) / "status.json")
    return not previous or previous.get("pid") == os.getpid()


def _previous(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def output_arguments(argv: list[str], subfolder: str) -> list[str]:
    """argv for src.predict/src.export with `hydra.run.dir` set to where their files go: `output=` if given,
    else `<run>/<subfolder>` beside the checkpoint's run (`outputs/<subfolder>` for a checkpoint outside a run);
    `${now:...}` in `subfolder` makes a new one per call. An explicit hydra.run.dir is kept."""
    if any(arg.startswith("hydra.run.dir=") for arg in argv[1:]):
        return argv
    outputs = [arg.split("=", 1)[1] for arg in argv[1:] if arg.startswith("output=")]
    checkpoints = [arg.split("=", 1)[1] for arg in argv[1:] if arg.startswith("ckpt_path=")]
    run = run_directory(checkpoints[-1]) if checkpoints else None
    folder = outputs[-1] if outputs else f"{run or 'outputs'}/{subfolder}"
    return [*argv, f"hydra.run.dir={folder}"]
