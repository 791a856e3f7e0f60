"""Binary classification: one logit per sample, scored as the probability sigmoid(logit) of class 1."""

from collections.abc import Callable, Iterable
from typing import Any

import torch
import torch.nn as nn
from lightning.pytorch import LightningDataModule
from torch import Tensor
from torch.optim import Optimizer
from torchmetrics.classification import BinaryAccuracy, BinaryAUROC, BinaryCalibrationError, BinaryF1Score

from src.inference.files import PredictionFiles
from src.tasks.base import Task


class BinaryClassificationTask(Task):
    """Trains `net` (inputs -> one logit (B, 1)) against labels (B,) in {0, 1}; logit > 0 predicts class 1.

    The losses that fit: `bce` (log-loss on sigmoid(logit)), `hinge` (the SVM margin loss on labels +-1) and
    `mse` (the Brier score of sigmoid(logit)); `cce` needs two logits and is refused. Predictions are the
    probabilities sigmoid(logit) (for hinge a squashed margin, not a calibrated probability). Metrics per stage
    and epoch: `acc` (at probability 0.5, i.e. logit 0), `auroc`, `f1` (of class 1) and `ece` (expected
    calibration error, 10 equal-width bins). The other arguments: see `Task`.
    """

    name = "binary"
    mirror_invariant = True
    outputs_hint = "give the net one output: model.num_classes=1"

    def __init__(
        self,
        net: nn.Module,
        loss: nn.Module,
        optimizer: Callable[[Iterable[nn.Parameter]], Optimizer],
        **options: Any,
    ) -> None:
        """options: the shared ones of `Task` (scheduler, monitor, monitor_mode, channels_last, compile)."""
        metrics = {
            "acc": BinaryAccuracy(threshold=0.5, validate_args=False),
            "auroc": BinaryAUROC(validate_args=False),
            "f1": BinaryF1Score(threshold=0.5, validate_args=False),
            "ece": BinaryCalibrationError(n_bins=10, validate_args=False),
        }
        super().__init__(net, loss, optimizer, metrics, **{"monitor": "val/loss", "monitor_mode": "min", **options})

    def predict(self, logits: Tensor) -> Tensor:
        """logits (B, 1) -> probabilities of class 1 (B,)."""
        return logits[:, 0].sigmoid()

    def output_shapes(self, datamodule: LightningDataModule) -> list[tuple[int, ...]]:
        return [(1,)]

    def example_targets(self, datamodule: LightningDataModule, batch_size: int) -> Tensor:
        return torch.zeros(batch_size, dtype=torch.long)

    def prediction_files(self) -> type[PredictionFiles]:
        from src.inference.scores import BinaryPredictions  # predict's writer, not needed to train

        return BinaryPredictions
