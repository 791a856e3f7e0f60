"""Multi-label classification: C independent yes/no answers per sample, one logit each."""

from collections.abc import Callable, Iterable
from typing import Any

import torch
import torch.nn as nn
from lightning.pytorch import LightningDataModule
from torch import Tensor
from torch.optim import Optimizer
from torchmetrics.classification import MultilabelAveragePrecision, MultilabelF1Score

from src.inference.files import PredictionFiles
from src.tasks.base import Task
from src.tasks.scores import per_name


class MultiLabelTask(Task):
    """Trains `net` (inputs -> logits (B, num_classes)) against multi-hot targets (B, num_classes) in {0, 1}.

    Predictions are the probabilities sigmoid(logits) (B, C); a label is predicted present above 0.5. Metrics
    per stage and epoch: `map` (macro mean average precision over the labels, the monitored one), `f1_micro`
    and `f1_macro` at 0.5; at test also `ap/<label>` per label. The default loss is `bce` (per-label
    `loss.pos_weight` weighs the rare presences up). The other arguments: see `Task`.
    """

    name = "multilabel"
    mirror_invariant = True

    def __init__(
        self,
        net: nn.Module,
        loss: nn.Module,
        optimizer: Callable[[Iterable[nn.Parameter]], Optimizer],
        num_classes: int,
        **options: Any,
    ) -> None:
        """options: the shared ones of `Task` (scheduler, monitor, monitor_mode, channels_last, compile)."""
        self.num_classes = num_classes
        metrics = {
            "map": MultilabelAveragePrecision(num_classes, average=None, validate_args=False),
            "f1_micro": MultilabelF1Score(num_classes, average="micro", validate_args=False),
            "f1_macro": MultilabelF1Score(num_classes, average="macro", validate_args=False),
        }
        super().__init__(net, loss, optimizer, metrics, **{"monitor": "val/map", "monitor_mode": "max", **options})

    def predict(self, logits: Tensor) -> Tensor:
        """logits (B, C) -> probabilities (B, C)."""
        return logits.sigmoid()

    def output_shapes(self, datamodule: LightningDataModule) -> list[tuple[int, ...]]:
        return [(self.num_classes,)]

    def example_targets(self, datamodule: LightningDataModule, batch_size: int) -> Tensor:
        return torch.zeros(batch_size, self.num_classes, dtype=torch.long)

    def epoch_values(self, stage: str) -> dict[str, Tensor]:
        values = super().epoch_values(stage)
        per_label = values[f"{stage}/map"]
        values[f"{stage}/map"] = per_label.nanmean()  # a label absent from the split has no AP
        if stage == "test":  # one scalar per label: in metrics.json and TensorBoard, once, not every epoch
            values |= per_name(per_label, "test/ap", self.trainer.datamodule.class_names)
        return values

    def prediction_files(self) -> type[PredictionFiles]:
        from src.inference.scores import MultiLabelPredictions  # predict's writer, not needed to train

        return MultiLabelPredictions
