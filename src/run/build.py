"""What train.py and eval.py share: building the run from the config, loading and saving results."""

import json
import os
import sys
from pathlib import Path
from typing import Any

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.types import RunMode
from hydra.utils import instantiate
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch import LightningDataModule, Trainer
from lightning.pytorch.accelerators import CPUAccelerator
from lightning.pytorch.strategies.launchers.subprocess_script import _SubprocessScriptLauncher
from omegaconf import DictConfig, OmegaConf

from src.run.directories import is_rank_zero
from src.run.resolvers import named_overrides
from src.tasks import Task


def build(cfg: DictConfig) -> tuple[LightningDataModule, Task]:
    """The data module and the task its config chose, with the configured net, loss, optimiser and scheduler.

    Nothing is read from disk here: a model, loss or task that does not fit the data fails before any data
    loads, with one line that names the choices.
    """
    datamodule = instantiate(cfg.data)
    task = instantiate(
        cfg.task,
        net=instantiate(cfg.model),
        loss=instantiate(cfg.loss),
        optimizer=instantiate(cfg.get("optimizer")),
        scheduler=instantiate(cfg.get("scheduler"), _convert_="all"),
    )
    names = _choices(cfg)
    if datamodule.task != task.name:
        raise ValueError(
            f"{names['data']} is {datamodule.task} data but {names['task']} trains {task.name}; "
            "drop the task override: the data config chooses its task"
        )
    task.check_fits(datamodule, names)
    if getattr(task.net, "normalizes_input", False):
        # A pretrained net normalises with its weights' statistics itself (after adapting channels), so the
        # data module hands it images in [0, 1] instead of normalising with the data set's.
        datamodule.mean, datamodule.std = (0.0,) * datamodule.in_channels, (1.0,) * datamodule.in_channels
    return datamodule, task


def _choices(cfg: DictConfig) -> dict[str, str]:
    """How the user chose each group, e.g. {"model": "model=mlp"}; the class when composed outside Hydra's app."""
    choices = HydraConfig.get().runtime.choices if HydraConfig.initialized() else {}
    return {
        group: f"{group}={choices[group]}" if choices.get(group) else f"{group} {cfg[group].get('_target_', '')}"
        for group in ("data", "model", "loss", "task")
    }


def build_trainer(cfg: DictConfig, **overrides: Any) -> Trainer:
    callbacks = list(instantiate(cfg.get("callbacks") or {}).values())
    loggers = list(instantiate(cfg.get("logger") or {}).values())
    try:
        trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False, **overrides)
    except InstantiationException as error:
        # Lightning's word for a setting it cannot serve here (a GPU that is not there, CPU devices=[0]).
        if not isinstance(error.__cause__, MisconfigurationException | TypeError | ValueError):
            raise
        settings = ", ".join(f"trainer.{key}={cfg.trainer.get(key)}" for key in ("accelerator", "devices", "precision"))
        raise ValueError(
            f"the trainer cannot start with {settings}: {error.__cause__}; trainer=cpu runs anywhere"
        ) from None
    launcher = getattr(trainer.strategy, "launcher", None)
    # ddp re-runs the command for its other processes, unless a cluster (SLURM) has started them already.
    relaunched = (
        isinstance(launcher, _SubprocessScriptLauncher)
        and not trainer.strategy.cluster_environment.creates_processes_externally
    )
    if relaunched and HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        raise ValueError(
            f"trainer.strategy={cfg.trainer.strategy} starts its other processes by re-running this command, which "
            "under -m would re-run the whole sweep; in a sweep use trainer.strategy=ddp_spawn (each job's processes "
            "belong to that job) or hydra/launcher=slurm (one SLURM task per GPU)"
        )
    cores = os.cpu_count() or 1
    if isinstance(trainer.accelerator, CPUAccelerator) and trainer.num_devices > cores:
        raise ValueError(
            f"trainer.devices={trainer.num_devices} asks for {trainer.num_devices} CPU processes but this machine "
            f"has {cores} cores; use trainer.devices={cores} or fewer"
        )
    if isinstance(trainer.accelerator, CPUAccelerator) and str(trainer.precision).startswith("bf16"):
        warn_if_bf16_is_slow(str(trainer.precision))
    return trainer


def warn_if_bf16_is_slow(precision: str) -> None:
    """One line on stderr where torch finds no native bf16 path on this CPU (it needs AVX-512 BW, VL, DQ): there oneDNN
    converts every operand, and a step of the default CNN under bf16 autocast took 7.9x its fp32 time (AVX2)."""
    if torch.ops.mkldnn._is_mkldnn_bf16_supported() or not is_rank_zero():
        return
    capability = torch.backends.cpu.get_cpu_capability()
    print(
        f"warning: this CPU ({capability}) has no bf16 units, so trainer.precision={precision} trains several times "
        "slower than fp32 here (7.9x per step on an AVX2 CPU); use trainer.precision=32-true",
        file=sys.stderr,
    )


def run_hparams(cfg: DictConfig) -> dict[str, Any]:
    """What TensorBoard's HParams table compares: the group choices, every key the command line set, and the
    main knobs (learning rate, batch size, epochs, precision, seed); lists as text."""
    params: dict[str, Any] = {}
    if HydraConfig.initialized():
        hydra = HydraConfig.get()
        choices = {group: choice for group, choice in hydra.runtime.choices.items() if "/" not in group and choice}
        params |= {group: choice for group, choice in choices.items() if named_overrides([group])}
        overrides = [o for o in named_overrides(hydra.overrides.task) if "=" in o and "." in o.split("=", 1)[0]]
        params |= {_key(o): OmegaConf.select(cfg, _key(o)) for o in overrides}
    knobs = ("optimizer.lr", "data.batch_size", "trainer.max_epochs", "trainer.precision", "seed")
    params |= {key: OmegaConf.select(cfg, key) for key in knobs}
    return {key: value if isinstance(value, int | float | str | bool) else str(value) for key, value in params.items()}


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def save_metrics(trainer: Trainer, path: Path, title: str) -> dict[str, float]:
    """Print the logged test metrics and write them to `path` as JSON (rank 0 only); return them."""
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test/")}
    if trainer.is_global_zero:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
        print(f"{title}: {json.dumps(metrics)}")
    return metrics
