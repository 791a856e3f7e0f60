"""The trained run as predict and export use it: its net with the checkpoint's weights and its preprocessing."""

from collections.abc import Iterable
from pathlib import Path

from omegaconf import DictConfig

from src.data.base import InMemoryDataModule
from src.run.build import build
from src.run.checkpoints import load_checkpoint, read_checkpoint
from src.tasks import Task


def load_trained(cfg: DictConfig) -> tuple[InMemoryDataModule, Task]:
    """The run's data module (its channels, size, class names, mean and std, a table's fitted preprocessing) and
    task in eval mode, with the checkpoint's weights and buffers.

    The data module's state comes from the checkpoint (Lightning saves `datamodule.state_dict()` under its class
    name), so the training files need not be there; a checkpoint without it (an older run) has it recomputed from
    them, as training did."""
    datamodule, task = build(cfg)
    load_checkpoint(cfg.ckpt_path, task)
    if state := read_checkpoint(cfg.ckpt_path).get(type(datamodule).__qualname__):
        datamodule.load_state_dict(state)
    elif datamodule.mean is None or datamodule.std is None:
        print(f"reading the run's training {datamodule.inputs} for their statistics (the checkpoint holds none)",
              flush=True)  # fmt: skip
        datamodule.setup("fit")
    task.prediction_files()  # a task predict cannot serve fails here, before any file is read
    return datamodule, task.eval()


def refuse_overwrite(folder: Path, outputs: Iterable[str], overwrite: bool) -> None:
    """Fail in one line if `folder` holds any of `outputs` (non-empty folders count) and overwrite is false."""
    if overwrite:
        return
    present = [folder / name for name in outputs if (folder / name).is_file() or any((folder / name).glob("*"))]
    if present:
        raise FileExistsError(f"{present[0]} exists; pass overwrite=true to replace it, or output=<another folder>")
