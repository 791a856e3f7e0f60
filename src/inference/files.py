"""What predict runs and writes: the net in a LightningModule for `Trainer.predict`, and a per-batch writer
that hands each batch's outputs to the task's `PredictionFiles` (so memory stays flat on large folders).

A task that predict can serve names its `PredictionFiles` subclass as `Task.prediction_files`
(src/inference/classification.py, segmentation.py).
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn as nn
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import BasePredictionWriter
from torch import Tensor

from src.inference.inputs import CONVERTED, UNREADABLE, read_image


class PredictionFiles:
    """The files predict writes for one task, a batch at a time, and what the net's outputs mean (model.json).

    folder: the output directory; class_names: the run's; rank: this process's (files written by several
    ranks are merged by `finish` on rank 0); options: the task's predict options (top_k, overlay, palette).
    """

    # The files (or folders) of `folder` this task writes: predict refuses to overwrite them without overwrite=true.
    outputs: ClassVar[tuple[str, ...]]

    def __init__(self, folder: Path, class_names: Sequence[str], rank: int, **options: Any) -> None:
        self.folder, self.class_names, self.rank, self.options = Path(folder), list(class_names), rank, options

    @staticmethod
    def describe_outputs(num_outputs: int, class_names: Sequence[str]) -> str:
        """What the exported net's output means and how to read a prediction from it, for model.json."""
        raise NotImplementedError

    def write(self, logits: Tensor, indices: list[int], paths: list[Path], names: list[str],
              sizes: list[tuple[int, int]]) -> None:  # fmt: skip
        """One batch: logits (B, ...) of the images at the training size, float on the CPU; per image its input
        index, path, output name and original (height, width)."""
        raise NotImplementedError

    def finish(self, world_size: int) -> str:
        """After every rank has written (rank 0 only): merge what the ranks wrote; -> what was written, in words."""
        raise NotImplementedError

    @staticmethod
    def forward(task: LightningModule) -> nn.Module | None:
        """What predict and export run on a batch of inputs when it is not the net (a VAE's output is no tensor):
        a module, inputs -> a tensor per input for `write`. None: the net itself."""
        return None


class Predictor(LightningModule):
    """`net` for Trainer.predict: a batch (images (B, C, H, W) normalised, indices, sizes, statuses) -> what `net`
    makes of the images: the run's net, the task's own module (`PredictionFiles.forward`) or the exported one."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def predict_step(self, batch: list[Any], batch_idx: int) -> Tensor:
        return self.net(batch[0])


class PredictionWriter(BasePredictionWriter):
    """After each batch, its decoded images' outputs go to `files`; unreadable ones are named (on stdout, beside
    the progress bar) and skipped. At the end, rank 0 merges the ranks' files and prints what was written: how
    many images, how many skipped, how many converted to the run's channels (colour to grey or back); mode: the
    run's (L or RGB), None for table rows."""

    def __init__(self, files: PredictionFiles, paths: Sequence[Path], names: Sequence[str], mode: str | None) -> None:
        super().__init__(write_interval="batch")
        self.files, self.paths, self.names, self.mode = files, list(paths), list(names), mode
        self.written, self.skipped, self.converted = 0, 0, 0

    def write_on_batch_end(self, trainer: Trainer, pl_module: LightningModule, prediction: Tensor,
                           batch_indices: Sequence[int] | None, batch: list[Any], batch_idx: int,
                           dataloader_idx: int) -> None:  # fmt: skip
        # Plain lists once per batch: reading 128 tensors element by element costs milliseconds.
        indices, sizes, statuses = (values.tolist() for values in batch[1:])
        decoded = [i for i, status in enumerate(statuses) if status != UNREADABLE]
        for i in (i for i, status in enumerate(statuses) if status == UNREADABLE):
            self.skipped += 1
            print(f"skipped: {unreadable(self.paths[indices[i]])} (strict=true stops at it)", flush=True)
        if not decoded:
            return
        self.converted += statuses.count(CONVERTED)
        chosen = [indices[i] for i in decoded]
        outputs = prediction if len(decoded) == len(indices) else prediction[decoded]
        self.files.write(
            outputs.float().cpu(),
            chosen,
            [self.paths[i] for i in chosen],
            [self.names[i] for i in chosen],
            [tuple(sizes[i]) for i in decoded],
        )
        self.written += len(decoded)

    def on_predict_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        counts = torch.tensor([self.written, self.skipped, self.converted])
        counts = trainer.strategy.reduce(counts.to(pl_module.device), reduce_op="sum").cpu()
        trainer.strategy.barrier()  # every rank's files are complete before rank 0 merges them
        if trainer.is_global_zero:
            written, skipped, converted = (int(c) for c in counts)
            summary = self.files.finish(trainer.world_size)
            if self.mode is None:  # table rows
                print(f"predicted {written} row(s); {summary}")
                return
            print(f"predicted {written} image(s), skipped {skipped} unreadable; {converted} converted to "
                  f"{'grey' if self.mode == 'L' else 'colour'} (the run's channels); {summary}")  # fmt: skip


def unreadable(path: Path) -> str:
    """Why PIL cannot read `path` (the file was found unreadable while decoding the batch)."""
    try:
        read_image(path, "RGB", (1, 1))
    except ValueError as error:
        return str(error)
    return f"{path} could not be read"
