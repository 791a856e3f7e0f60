"""The one LightningModule behind every classifier (MLP, CNN, transfer-learned backbones)."""

from collections.abc import Callable, Iterable
from typing import Any

import torch
import torch.nn as nn
from lightning.pytorch import LightningDataModule
from torch import Tensor
from torch.optim import Optimizer
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from src.inference.files import PredictionFiles
from src.tasks.base import Task


class ClassificationTask(Task):
    """Trains `net` (images (B, C, H, W) -> logits (B, num_classes)) against integer labels (B,).

    Metrics per stage and epoch: `acc` (micro: the fraction of correct predictions) and `f1` (macro).
    The other arguments: see `Task`.
    """

    name = "classification"
    mirror_invariant = True

    def __init__(
        self,
        net: nn.Module,
        loss: nn.Module,
        optimizer: Callable[[Iterable[nn.Parameter]], Optimizer],
        num_classes: int,
        **options: Any,
    ) -> None:
        """options: those every task shares (`Task`: scheduler, monitor, channels_last, backbone_lr_scale, ...)."""
        metrics = {
            # torchmetrics' default average, macro, would make `acc` the balanced accuracy.
            "acc": MulticlassAccuracy(num_classes, average="micro", validate_args=False),
            "f1": MulticlassF1Score(num_classes, average="macro", validate_args=False),
        }
        super().__init__(net, loss, optimizer, metrics, **{"monitor": "val/acc", "monitor_mode": "max", **options})

    def predict(self, logits: Tensor) -> Tensor:
        """logits (B, num_classes) -> class indices (B,)."""
        return logits.argmax(dim=1)

    def output_shapes(self, datamodule: LightningDataModule) -> list[tuple[int, ...]]:
        return [(datamodule.num_classes,)]

    def example_targets(self, datamodule: LightningDataModule, batch_size: int) -> Tensor:
        return torch.zeros(batch_size, dtype=torch.long)

    def prediction_files(self) -> type[PredictionFiles]:
        from src.inference.classification import ClassPredictions  # predict's writer, not needed to train

        return ClassPredictions
