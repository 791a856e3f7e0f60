"""Checkpoints: written atomically, read back as tensors only, checked against the model before use."""

import os
import pickle
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from omegaconf import OmegaConf

from src.models.weights import state_mismatch


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes `<name>.tmp` beside the target, syncs it to disk, then renames it over the target.

    A kill or a full disk during a save leaves the previous `last.ckpt`/`best.ckpt` whole (a rename within a
    directory is atomic). Lightning's own writer goes through a temporary file in /tmp, which on another file
    system is copied, not renamed, and so can be cut short.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.tmp")
        try:
            with open(partial, "wb") as file:
                torch.save(checkpoint, file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(partial, path)
        except BaseException as error:
            partial.unlink(missing_ok=True)
            if isinstance(error, OSError):
                raise OSError(
                    error.errno,
                    f"could not save {path} ({error.strerror or error}); the previous checkpoint there is intact. "
                    "Free disk space or choose another output directory (hydra.run.dir=...)",
                ) from None
            raise


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """A Lightning checkpoint's contents, tensors and plain data only (weights_only): never code."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:  # torch's text suggests weights_only=False: the one thing not to do
        lines = str(error).split("WeightsUnpickler error:")[-1].splitlines()
        detail = next((line.strip() for line in lines if line.strip()), "")
        raise ValueError(
            f"{path} is not a readable Lightning checkpoint (UnpicklingError: {detail}): it is not made of "
            "tensors and plain data alone, all that is ever loaded; pass a checkpoint that src.train wrote"
        ) from None
    except Exception as error:  # any failure here means the file is not one of our checkpoints
        first_line = (str(error).splitlines() or [""])[0]
        raise ValueError(
            f"{path} is not a readable Lightning checkpoint ({type(error).__name__}: {first_line})"
        ) from None


def check_fits(path: str | Path, task: nn.Module, state: dict[str, Any], prefix: str = "") -> None:
    """Raise one line naming the first tensor of `state` (a checkpoint's state dict) that `task` cannot take.

    prefix: where `task` sits in the checkpointed module (its keys in `state` lack it); named in the message.
    """
    if mismatch := state_mismatch(state, task.state_dict(), "in the checkpoint", prefix):
        raise ValueError(f"{path} does not fit this model: {mismatch}; {_training_overrides_hint(Path(path))}")


def load_checkpoint(path: str | Path, task: nn.Module, prefix: str = "") -> None:
    """Load a checkpoint's weights into `task` after checking that every tensor fits.

    With `prefix`, only the tensors under it go into `task`, a part of the checkpointed module:
    `load_checkpoint(path, task.net.backbone, prefix="net.backbone.")`.
    """
    state = read_checkpoint(path).get("state_dict")
    if not isinstance(state, dict):
        raise ValueError(f"{path} is not a Lightning checkpoint: it has no state_dict")
    state = {key[len(prefix) :]: tensor for key, tensor in state.items() if key.startswith(prefix)}
    check_fits(path, task, state, prefix)
    task.load_state_dict(state)


def _training_overrides_hint(checkpoint: Path) -> str:
    """How to rebuild the model the checkpoint came from: its run's overrides, when the run dir is there."""
    overrides = checkpoint.parent.parent / ".hydra" / "overrides.yaml"
    if not overrides.is_file():
        return "pass the model/data overrides the run was trained with"
    used = " ".join(str(o) for o in OmegaConf.load(overrides) if not str(o).startswith("hydra."))
    return f"the run was trained with: {used or '(the defaults)'}"
