"""The one LightningModule behind every classifier: a net, a loss, an optimiser and torchmetrics."""

import inspect
from collections.abc import Callable, Iterable
from typing import Any

import torch
import torch.nn as nn
from lightning.pytorch import LightningModule
from torch import Tensor
from torch.optim import Optimizer
from torchmetrics import MaxMetric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from src.losses import check_loss_fits

# How torch's schedulers name the length of the run they shape (OneCycleLR, CosineAnnealingLR).
RUN_LENGTH_ARGS = ("total_steps", "T_max")


class ClassificationTask(LightningModule):
    """Trains `net` (images (B, C, H, W) -> logits (B, num_classes)) against integer labels (B,) with `loss`.

    Logs `train/loss` per step; `{stage}/acc` and `{stage}/f1` (macro) per epoch, `val/loss` and `test/loss`
    per epoch; and `val/acc_best`, also as TensorBoard's `hp_metric`.

    optimizer: a factory of an optimiser from parameters (a Hydra `_partial_`); it gets only the parameters
    that require gradients. scheduler: Lightning's lr_scheduler dict whose "scheduler" is a factory taking the
    optimiser; a `total_steps` or `T_max` left null becomes the run's length in the dict's `interval`.
    """

    name = "classification"

    def __init__(
        self,
        net: nn.Module,
        loss: nn.Module,
        optimizer: Callable[[Iterable[nn.Parameter]], Optimizer],
        num_classes: int,
        scheduler: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        check_loss_fits(loss, self.name)
        # Only plain values go into checkpoints, so weights_only loading can read them; the net and loss are
        # rebuilt from the config, and train.py logs the whole composed config as hyper-parameters.
        self.save_hyperparameters(ignore=["net", "loss", "optimizer", "scheduler"], logger=False)
        self.net = net
        self.loss = loss
        self.optimizer_factory = optimizer
        self.scheduler_config = scheduler
        accuracy = MulticlassAccuracy(
            num_classes, average="micro"
        )  # torchmetrics' default, macro, is balanced accuracy
        metrics = MetricCollection({"acc": accuracy, "f1": MulticlassF1Score(num_classes, average="macro")})
        self.train_metrics = metrics.clone(prefix="train/")
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")
        self.best_val_acc = MaxMetric()

    @property
    def backbone(self) -> nn.Module:
        """What BackboneFinetuning freezes and unfreezes."""
        return self.net.backbone

    def setup(self, stage: str) -> None:
        """Fail before training if the net cannot take the data's images or predicts the wrong classes."""
        datamodule = self.trainer.datamodule
        probe = torch.zeros(2, datamodule.in_channels, *datamodule.image_size, device=self.device)
        was_training = self.net.training
        self.net.eval()
        try:
            with torch.no_grad():
                logits = self.net(probe)
        except RuntimeError as error:
            raise ValueError(
                f"the model cannot take the data's images {tuple(probe.shape[1:])}: {error}; "
                "let the model config interpolate ${data.in_channels} and ${data.image_size}"
            ) from None
        finally:
            self.net.train(was_training)
        if logits.shape != (2, datamodule.num_classes):
            raise ValueError(
                f"the model outputs {tuple(logits.shape[1:])} per image but the data has "
                f"{datamodule.num_classes} classes; set model.num_classes=${{data.num_classes}}"
            )

    def forward(self, images: Tensor) -> Tensor:
        """images: (B, C, H, W) -> logits (B, num_classes)."""
        return self.net(images)

    def _step(self, batch: tuple[Tensor, Tensor], stage: str) -> dict[str, Tensor]:
        images, labels = batch
        logits = self(images)
        loss = self.loss(logits, labels)
        # train/loss per step; val/ and test/ per epoch, averaged over batches and, under DDP, over ranks.
        on_step, sync = stage == "train", stage != "train"
        self.log(f"{stage}/loss", loss, on_step=on_step, on_epoch=not on_step, prog_bar=True, sync_dist=sync)
        for term, value in getattr(self.loss, "last_terms", {}).items():  # the parts of a WeightedSumLoss
            self.log(f"{stage}/loss_{term}", value, on_step=on_step, on_epoch=not on_step, sync_dist=sync)
        metrics = getattr(self, f"{stage}_metrics")
        metrics.update(logits.detach(), labels)
        self.log_dict(metrics, on_step=False, on_epoch=True, prog_bar=stage == "val")
        return {"loss": loss, "preds": logits.detach().argmax(dim=1)}

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        loss = self._step(batch, "train")["loss"]
        # Checked at the logging cadence: a check every step would stall an accelerator on a sync.
        if batch_idx % self.trainer.log_every_n_steps == 0 and not torch.isfinite(loss):
            raise FloatingPointError(
                f"the training loss is {loss.item()} at step {self.global_step}; lower optimizer.lr, "
                "or try trainer.gradient_clip_val=1.0 or trainer.precision=32-true"
            )
        return loss

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> dict[str, Tensor]:
        return self._step(batch, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> dict[str, Tensor]:
        return self._step(batch, "test")

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            return
        self.best_val_acc.update(self.val_metrics["acc"].compute())
        best = self.best_val_acc.compute()
        self.log("val/acc_best", best)
        self.log("hp_metric", best)

    def configure_optimizers(self) -> Optimizer | dict[str, Any]:
        optimizer = self.optimizer_factory([p for p in self.parameters() if p.requires_grad])
        if not self.scheduler_config:
            return optimizer
        factory = self.scheduler_config["scheduler"]
        scheduler = factory(optimizer, **self._run_length(factory, self.scheduler_config.get("interval", "epoch")))
        return {"optimizer": optimizer, "lr_scheduler": {**self.scheduler_config, "scheduler": scheduler}}

    def _run_length(self, factory: Callable, interval: str) -> dict[str, int]:
        """The run's length in the scheduler's steps, for each length argument the config leaves null."""
        length = self.trainer.estimated_stepping_batches if interval == "step" else self.trainer.max_epochs
        parameters = inspect.signature(factory).parameters
        return {
            name: int(length) for name in RUN_LENGTH_ARGS if name in parameters and parameters[name].default is None
        }
