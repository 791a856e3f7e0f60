"""Semantic segmentation: a class per pixel, scored over the whole split from one confusion matrix."""

from collections.abc import Callable, Iterable
from typing import Any

import torch
import torch.nn as nn
from lightning.pytorch import LightningDataModule
from torch import Tensor
from torch.optim import Optimizer
from torchmetrics.classification import MulticlassConfusionMatrix

from src.inference.files import PredictionFiles
from src.tasks.base import Task


class SegmentationScores(MulticlassConfusionMatrix):
    """Dataset-level IoU, Dice and pixel accuracy from one C x C confusion matrix (rows: true, columns: predicted).

    update(preds (N, H, W) int, target (N, H, W) int); pixels whose target is `ignore_index` are not counted.
    compute() -> `miou` and `mdice` (means over the classes present in the target or the prediction: a class
    absent from both has no IoU and is left out, not counted as 0 or 1), `pixel_acc`, `iou_per_class` (C,)
    (NaN for absent classes) and, given a `background_index`, `foreground_iou`: every other class merged into
    one "object" class against the background. Accumulated over the split (torchvision's references do the
    same), not averaged per batch or per image; under DDP the matrices of all ranks are summed first.
    """

    def __init__(self, num_classes: int, ignore_index: int | None = None, background_index: int | None = 0) -> None:
        super().__init__(num_classes, ignore_index=ignore_index, validate_args=False)
        self.background_index = background_index

    def compute(self) -> dict[str, Tensor]:
        matrix = self.confmat.double()
        true, predicted, hits = matrix.sum(1), matrix.sum(0), matrix.diagonal()
        union = true + predicted - hits
        iou = hits / union  # 0 / 0 = NaN for a class absent from target and prediction
        dice = 2 * hits / (true + predicted)
        scores = {
            "miou": iou.nanmean(),
            "mdice": dice.nanmean(),
            "pixel_acc": hits.sum() / matrix.sum(),
            "iou_per_class": iou,
        }
        if self.background_index is not None:
            objects = torch.ones(self.num_classes, dtype=torch.bool, device=matrix.device)
            objects[self.background_index] = False
            object_hits = matrix[objects][:, objects].sum()
            scores["foreground_iou"] = object_hits / (matrix.sum() - matrix[~objects][:, ~objects].sum())
        return {key: value.float() for key, value in scores.items()}


class SegmentationTask(Task):
    """Trains `net` (images (B, C, H, W) -> logits (B, num_classes, H, W)) against masks (B, H, W) of class
    indices. For two classes the net may instead output one channel (B, 1, H, W): a binary segmenter whose
    logit > 0 means class 1.

    Metrics per stage and epoch (see `SegmentationScores`): `miou`, `mdice`, `pixel_acc`, `foreground_iou`;
    at test also `iou/<class name>` per class. Pixels labelled `ignore_index` are scored by no metric (the loss
    configs ignore them too: they interpolate `data.ignore_index`). The other arguments: see `Task`.
    """

    name = "segmentation"

    def __init__(
        self,
        net: nn.Module,
        loss: nn.Module,
        optimizer: Callable[[Iterable[nn.Parameter]], Optimizer],
        num_classes: int,
        ignore_index: int | None = None,
        background_index: int | None = 0,
        **options: Any,
    ) -> None:
        """options: the shared ones of `Task` (scheduler, monitor, monitor_mode, channels_last, compile)."""
        metrics = {"scores": SegmentationScores(num_classes, ignore_index, background_index)}
        super().__init__(net, loss, optimizer, metrics, **{"monitor": "val/miou", "monitor_mode": "max", **options})

    def predict(self, logits: Tensor) -> Tensor:
        """logits (B, C, H, W) -> class per pixel (B, H, W); one channel: logit > 0 is class 1."""
        return (logits[:, 0] > 0).long() if logits.shape[1] == 1 else logits.argmax(dim=1)

    def output_shapes(self, datamodule: LightningDataModule) -> list[tuple[int, ...]]:
        shapes = [(datamodule.num_classes, *datamodule.image_size)]
        return [*shapes, (1, *datamodule.image_size)] if datamodule.num_classes == 2 else shapes

    def example_targets(self, datamodule: LightningDataModule, batch_size: int) -> Tensor:
        return torch.zeros(batch_size, *datamodule.image_size, dtype=torch.long)

    def prediction_files(self) -> type[PredictionFiles]:
        from src.inference.segmentation import MaskPredictions  # predict's writer, not needed to train

        return MaskPredictions

    def epoch_values(self, stage: str) -> dict[str, Tensor]:
        values = super().epoch_values(stage)
        per_class = values.pop(f"{stage}/iou_per_class")
        if stage == "test":  # one scalar per class: in metrics.json and TensorBoard, once, not every epoch
            names = self.trainer.datamodule.class_names
            values |= {f"test/iou/{name.replace('/', '-')}": iou for name, iou in zip(names, per_class, strict=True)}
        return values
