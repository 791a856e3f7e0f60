"""Regression: T real values per sample, learnt on standardised targets, scored in the targets' own units."""

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import torch
import torch.nn as nn
from lightning.pytorch import LightningDataModule
from torch import Tensor
from torch.optim import Optimizer
from torchmetrics import MeanAbsoluteError, MeanSquaredError, Metric, R2Score

from src.inference.files import PredictionFiles
from src.tasks.base import Task
from src.tasks.scores import per_name


class RegressionTask(Task):
    """Trains `net` (inputs -> (B, num_targets)) against float targets (B, num_targets).

    The loss sees targets standardised with the training split's mean and std (`target_mean`, `target_std`,
    buffers saved in checkpoints, set when fitting starts), as scikit-learn's `TransformedTargetRegressor`
    does; predictions are the net's outputs mapped back, `logits * std + mean`, so every metric is in the
    target's own units. Metrics per stage and epoch: `rmse`, `mae`, `r2` (means over the targets when there
    are several); at test also `{metric}/<target name>` per target when num_targets > 1.

    The other arguments: see `Task`.
    """

    name = "regression"
    outputs_hint = "give the net ${data.num_targets} outputs (model.num_classes)"

    def __init__(
        self,
        net: nn.Module,
        loss: nn.Module,
        optimizer: Callable[[Iterable[nn.Parameter]], Optimizer],
        num_targets: int,
        **options: Any,
    ) -> None:
        """options: the shared ones of `Task` (scheduler, monitor, monitor_mode, channels_last, compile)."""
        self.num_targets = num_targets
        metrics = {
            "rmse": MeanSquaredError(squared=False, num_outputs=num_targets),
            "mae": MeanAbsoluteError(num_outputs=num_targets),
            "r2": R2Score(multioutput="raw_values"),
            **self.more_metrics(),
        }
        super().__init__(net, loss, optimizer, metrics, **{"monitor": "val/rmse", "monitor_mode": "min", **options})
        self.register_buffer("target_mean", torch.zeros(num_targets))
        self.register_buffer("target_std", torch.ones(num_targets))

    def more_metrics(self) -> dict[str, Metric]:
        """What a subclass scores besides rmse, mae and r2, on (predictions, targets) (B, T) in target units."""
        return {}

    def setup(self, stage: str) -> None:
        # Only when fitting: evaluation keeps the statistics of the training run its checkpoint holds.
        datamodule = self.trainer.datamodule
        if stage == "fit" and getattr(datamodule, "target_mean", None) is not None:
            self.target_mean.copy_(datamodule.target_mean)
            self.target_std.copy_(datamodule.target_std)

    def check_fits(self, datamodule: LightningDataModule, names: Mapping[str, str]) -> None:
        """Also: the loss must score real values, a perfect prediction 0 and a wrong one more. Shapes alone would
        let Dice or BCE through, which take one output per sample as a binary problem."""
        super().check_fits(datamodule, names)
        targets = torch.linspace(-2, 2, 2 * self.num_targets).view(2, self.num_targets)
        perfect, wrong = float(self.loss(targets, targets)), float(self.loss(targets + 1, targets))
        if abs(perfect) > 1e-6 or not wrong > perfect:
            raise ValueError(
                f"{names['loss']} cannot train the {self.name} task of {names['data']}: it does not score real values "
                f"(a perfect prediction scores {perfect:.3g}, one off by 1 {wrong:.3g}; a regression loss gives 0 and "
                "more); use loss=mse"
            )

    def loss_targets(self, targets: Tensor) -> Tensor:
        """targets (B, T) in their units -> standardised (B, T): what the net learns to output."""
        return (targets - self.target_mean) / self.target_std

    def predict(self, logits: Tensor) -> Tensor:
        """logits (B, T) standardised -> predictions (B, T) in the targets' units."""
        return logits * self.target_std + self.target_mean

    def output_shapes(self, datamodule: LightningDataModule) -> list[tuple[int, ...]]:
        return [(self.num_targets,)]

    def example_targets(self, datamodule: LightningDataModule, batch_size: int) -> Tensor:
        return torch.zeros(batch_size, self.num_targets)

    def epoch_values(self, stage: str) -> dict[str, Tensor]:
        values = super().epoch_values(stage)
        names: Sequence[str] = getattr(self.trainer.datamodule, "target_names", None) or list(
            map(str, range(self.num_targets))
        )
        for key in (f"{stage}/rmse", f"{stage}/mae", f"{stage}/r2"):
            per_target = values[key]
            values[key] = per_target.mean()
            if stage == "test" and self.num_targets > 1:  # once, in metrics.json and TensorBoard
                values |= per_name(per_target, key, names)
        return values

    def prediction_files(self) -> type[PredictionFiles]:
        from src.inference.scores import RegressionPredictions  # predict's writer, not needed to train

        return RegressionPredictions
