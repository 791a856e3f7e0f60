"""Box regression: one bounding box per image, (x0, y0, x1, y1) as fractions of the image, scored in pixels and IoU."""

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
import torch.nn as nn
from torch import Tensor
from torch.optim import Optimizer
from torchmetrics import Metric
from torchvision.ops import box_iou

from src.inference.files import PredictionFiles
from src.tasks.regression import RegressionTask


class BoxScores(Metric):
    """update(predicted boxes (N, 4), true boxes (N, 4)), both (x0, y0, x1, y1) / (W, H, W, H) ->
    `rmse_px` (root mean squared coordinate error in pixels) and `iou` (mean IoU of each predicted box with its
    true one; a predicted box with x1 < x0 or y1 < y0 is made empty first, so it scores 0)."""

    def __init__(self, image_size: Sequence[int]) -> None:
        super().__init__()
        height, width = image_size
        self.register_buffer("scale", torch.tensor([width, height, width, height], dtype=torch.float32))
        self.add_state("squared", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("iou", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.tensor(0), dist_reduce_fx="sum")

    def update(self, predicted: Tensor, target: Tensor) -> None:
        predicted, target = predicted.float() * self.scale, target.float() * self.scale
        self.squared += (predicted - target).square().sum()
        valid = torch.cat([predicted[:, :2], torch.maximum(predicted[:, 2:], predicted[:, :2])], 1)
        self.iou += box_iou(valid, target).diagonal().sum()
        self.count += len(target)

    def compute(self) -> dict[str, Tensor]:
        return {"rmse_px": (self.squared / (4 * self.count)).sqrt().float(), "iou": (self.iou / self.count).float()}


class BoxTask(RegressionTask):
    """A `RegressionTask` of the 4 box coordinates (standardised for the loss, mse by default) that also scores
    `rmse_px` and `iou` (see `BoxScores`) and monitors `val/iou`. image_size: (H, W) of the images."""

    name = "boxes"

    def __init__(
        self,
        net: nn.Module,
        loss: nn.Module,
        optimizer: Callable[[Iterable[nn.Parameter]], Optimizer],
        image_size: Sequence[int],
        **options: Any,
    ) -> None:
        """options: the shared ones of `Task` (scheduler, monitor, monitor_mode, channels_last, compile)."""
        image_size = [int(size) for size in image_size]  # plain ints in the checkpoint's hyper-parameters
        self.image_size = image_size
        options = {"monitor": "val/iou", "monitor_mode": "max", **options}
        super().__init__(net, loss, optimizer, num_targets=4, **options)

    def more_metrics(self) -> dict[str, Metric]:
        return {"boxes": BoxScores(self.image_size)}

    def prediction_files(self) -> type[PredictionFiles]:
        from src.inference.scores import BoxPredictions  # predict's writer, not needed to train

        return BoxPredictions
