"""What every task shares: a net, a loss, an optimiser, per-stage torchmetrics and the best monitored value.

A task is the LightningModule for one kind of problem (classification, segmentation, ...). It is chosen by
the data config through Hydra's `task` group; a new task is a subclass here plus a `conf/task/<name>.yaml`.
"""

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import torch
import torch.nn as nn
from lightning.pytorch import LightningDataModule, LightningModule
from lightning.pytorch.trainer.states import TrainerFn
from torch import Tensor
from torch.optim import Optimizer
from torchmetrics import MaxMetric, MeanMetric, Metric, MetricCollection, MinMetric

from src.models.layers import MirrorAverage
from src.tasks.finite import FiniteLossWatch
from src.tasks.random_state import every_rank_state, restore_own_state, seed_apart
from src.tasks.schedule import (
    CYCLE_START_KEY,
    cycle_start_on_resume,
    group_settings,
    length_args,
    run_end,
    scaled_peaks,
    warm_up_of_two_steps,
)

if TYPE_CHECKING:
    from src.inference.files import PredictionFiles

STAGES = ("train", "val", "test")
# A torchmetrics update costs about 0.3 ms of Python whatever its size, a fifth of a small net's whole step: steps
# queue their predictions, and the metrics take them in bulk once this many target elements are waiting (and at
# every epoch's end). A classifier's epoch is then one update; a segmenter's batch is already past it.
METRIC_UPDATE_ELEMENTS = 2**16


class Task(LightningModule):
    """Trains `net` with `loss(logits, targets)`; subclasses say what the net must output and how it is scored.

    `metrics` (given by the subclass): torchmetrics updated with (predictions, targets), cloned per stage.
    Logs `train/loss` every `trainer.log_every_n_steps` steps; per epoch `{stage}/loss` and the metrics'
    values as `{stage}/<name>`, computed over the whole split (under DDP, over every rank); after each
    validation epoch the best value of `monitor` so far as `{monitor}_best` and as TensorBoard's `hp_metric`.

    channels_last: keep the net's weights in NHWC (faster convolutions on CPU and GPU). compile: `torch.compile` the
    net in place. mirror_average: outside training (validation, test, predict, export), the logits are the mean
    of the image's and its left-right mirror's (test-time augmentation; twice the evaluation's forward passes),
    for tasks whose targets a mirror keeps.

    optimizer: a factory of an optimiser from parameters (a Hydra `_partial_`); it gets only the parameters
    that require gradients. scheduler: Lightning's lr_scheduler dict whose "scheduler" is a factory taking the
    optimiser; a `total_steps` or `T_max` left null becomes the run's length in the dict's `interval` (a resume
    that moves the run's end starts a new cycle: src/tasks/schedule.py).
    backbone_lr_scale: the backbone learns at this fraction of the learning rate (fine-tuning keeps what it
    learnt on the source); other than 1, the optimiser gets two parameter groups, "head" and "backbone".
    """

    name: ClassVar[str]
    # Whether a mirrored image has the same target (its class, its set of labels): mirror_average may be used.
    mirror_invariant: ClassVar[bool] = False
    # How to give the net the outputs this task needs (the end of the error when they differ).
    outputs_hint: ClassVar[str] = "let the model config interpolate ${data.num_classes}"

    def __init__(
        self,
        net: nn.Module,
        loss: nn.Module,
        optimizer: Callable[[Iterable[nn.Parameter]], Optimizer],
        metrics: Mapping[str, Metric],
        scheduler: dict[str, Any] | None = None,
        monitor: str = "val/loss",
        monitor_mode: str = "min",
        channels_last: bool = False,
        compile: bool = False,
        backbone_lr_scale: float = 1.0,
        mirror_average: bool = False,
    ) -> None:
        super().__init__()
        if monitor_mode not in ("min", "max"):
            raise ValueError(f"monitor_mode must be 'min' or 'max', got {monitor_mode!r}")
        if not backbone_lr_scale > 0:
            raise ValueError(
                f"task.backbone_lr_scale must be > 0, got {backbone_lr_scale}; freeze with transfer=freeze"
            )
        if channels_last:  # convolutions then run in NHWC, oneDNN's and cuDNN's fast layout; inputs follow
            net = net.to(memory_format=torch.channels_last)
        if compile:  # in place, so that state-dict keys (and checkpoints) stay those of the plain net
            net.compile()
        # Only plain values go into checkpoints, so weights_only loading can read them; the net and loss are
        # rebuilt from the config, and train.py logs the whole composed config as hyper-parameters.
        self.save_hyperparameters(ignore=["net", "loss", "optimizer", "scheduler", "metrics"], logger=False)
        self.net = net
        self.loss = loss
        self.optimizer_factory = optimizer
        self.scheduler_config = scheduler
        self.monitor = monitor
        self.backbone_lr_scale = backbone_lr_scale
        self.mirror_average = mirror_average
        metrics = MetricCollection(dict(metrics))
        for stage in STAGES:  # train_metrics, val_metrics, test_metrics; train_loss_mean, ...
            setattr(self, f"{stage}_metrics", metrics.clone())
            setattr(self, f"{stage}_loss_mean", MeanMetric())
        self.queued: dict[str, list[tuple[Tensor, Tensor, Tensor, int]]] = {stage: [] for stage in STAGES}
        self.best = MaxMetric() if monitor_mode == "max" else MinMetric()
        self.best.persistent(True)  # in checkpoints: a resumed run keeps the best value of the epochs before it
        self.lr_cycle_start = 0  # where the schedule's cycle began, in its interval (src/tasks/schedule.py)
        self.new_lr_cycle = False  # a resume moved the run's end: the restored optimiser gets the new cycle's rates
        self.cycle_settings: list[dict[str, float]] = []
        self.finite_watch = FiniteLossWatch()

    # What a subclass defines.
    def predict(self, logits: Tensor) -> Tensor:
        """The hard prediction the metrics score, from the net's logits."""
        raise NotImplementedError

    def output_shapes(self, datamodule: LightningDataModule) -> list[tuple[int, ...]]:
        """The per-sample logits shapes this task accepts for the data (first: the usual one)."""
        raise NotImplementedError

    def example_targets(self, datamodule: LightningDataModule, batch_size: int) -> Tensor:
        """Targets shaped as the data module serves them, to probe the loss before any data loads."""
        raise NotImplementedError

    def prediction_files(self) -> type["PredictionFiles"]:
        """What `python -m src.predict` writes for this task and model.json says its outputs mean."""
        raise ValueError(
            f"python -m src.predict and src.export cannot serve the {self.name} task yet: it names no "
            "PredictionFiles (see src/inference/files.py)"
        )

    def loss_targets(self, targets: Tensor) -> Tensor:
        """What the loss compares the logits with; the targets as served unless the task rescales them."""
        return targets

    # The shared machinery.
    @property
    def backbone(self) -> nn.Module:
        """What BackboneFinetuning freezes and unfreezes."""
        return self.net.backbone

    def forward(self, images: Tensor) -> Tensor:
        """images: (B, C, H, W) -> the net's logits (outside training, the evaluation net's)."""
        return self.net(images) if self.training else self.evaluation_net()(images)

    def evaluation_net(self) -> nn.Module:
        """The net as validation, test, predict and export run it: with mirror_average, averaged with its mirror."""
        return MirrorAverage(self.net) if self.mirror_average else self.net

    def check_fits(self, datamodule: LightningDataModule, names: Mapping[str, str]) -> None:
        """Fail before any data loads if the net cannot take the data's images, its output is not what this
        task needs, or the loss cannot score it. `names` say how the user chose each part (e.g. "model=mlp").
        """
        if self.mirror_average and not (self.mirror_invariant and datamodule.inputs == "images"):
            raise ValueError(
                f"task.mirror_average=true averages an image with its mirror, which keeps the target of a "
                f"classification, binary or multilabel task on images, not the {self.name} task of {names['data']}; "
                f"leave it false"
            )
        logits = self.probe_net(datamodule, names)
        accepted = self.output_shapes(datamodule)
        if not isinstance(logits, Tensor):  # e.g. a VAE's (params, mean, log_var, z)
            raise ValueError(
                f"{names['model']} outputs a {type(logits).__name__}, not logits; choose a {self.name} model"
            )
        if tuple(logits.shape[1:]) not in accepted:
            raise ValueError(
                f"{names['model']} outputs {tuple(logits.shape[1:])} per sample, but the {self.name} task of "
                f"{names['data']} needs {' or '.join(map(str, accepted))}; choose a {self.name} model, or "
                f"{self.outputs_hint}"
            )
        try:
            self.loss(logits, self.example_targets(datamodule, len(logits)))
        except ValueError as error:
            raise ValueError(f"{names['loss']} cannot train the {self.name} task of {names['data']}: {error}") from None

    def probe_net(self, datamodule: LightningDataModule, names: Mapping[str, str], *inputs: Tensor) -> Any:
        """The net's output for two blank inputs of the data's shape (and `inputs`), in eval mode; a net that
        cannot take them fails with one line."""
        probe = datamodule.example_inputs(2)
        was_training = self.net.training
        self.net.eval()
        try:
            with torch.no_grad():
                return self.net(probe, *inputs)
        except RuntimeError as error:
            keys = " and ".join(f"${{data.{key}}}" for key in datamodule.input_keys)
            raise ValueError(
                f"{names['model']} cannot take the {datamodule.inputs} of {names['data']} {tuple(probe.shape[1:])}: "
                f"{str(error).splitlines()[0]}; let the model config interpolate {keys}"
            ) from None
        finally:
            self.net.train(was_training)

    def _step(self, batch: tuple[Tensor, Tensor], stage: str) -> dict[str, Tensor]:
        images, targets = batch
        logits = self(images)
        loss = self.loss(logits, self.loss_targets(targets))
        if stage != "train":  # the parts of a WeightedSumLoss, averaged over the epoch (and ranks)
            for term, value in getattr(self.loss, "last_terms", {}).items():
                self.log(f"{stage}/loss_{term}", value, on_step=False, on_epoch=True, sync_dist=True)
        predictions = self.predict(logits.detach())
        # Every stage's epoch mean of the loss comes from here, its metrics from torchmetrics.
        queue = self.queued[stage]
        queue.append((predictions, targets, loss.detach(), len(images)))
        if len(queue) * targets.numel() >= METRIC_UPDATE_ELEMENTS:
            self._update_metrics(stage)
        return {"loss": loss, "preds": predictions}

    def _update_metrics(self, stage: str) -> None:
        """Hand the queued steps of `stage` to its metrics and its loss mean (weighted by batch size)."""
        if not self.queued[stage]:
            return
        predictions, targets, losses, sizes = zip(*self.queued[stage], strict=True)
        getattr(self, f"{stage}_metrics").update(torch.cat(predictions), torch.cat(targets))
        losses = torch.stack(losses)
        getattr(self, f"{stage}_loss_mean").update(losses, torch.tensor(sizes, device=losses.device))
        self.queued[stage].clear()

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        loss = self._step(batch, "train")["loss"]
        self.finite_watch.update(loss, self.global_step)
        if self.global_step == 0 or self._logs_this_step():  # and before every save: on_save_checkpoint
            self.finite_watch.check(self.trainer.strategy)
        # Logged only on the steps whose values reach the loggers (Lightning's LearningRateMonitor asks the same):
        # each self.log costs about a millisecond of bookkeeping, a third of a small net's whole step.
        if self._logs_this_step():
            self.log("train/loss", loss, prog_bar=True)
            for term, value in getattr(self.loss, "last_terms", {}).items():
                self.log(f"train/loss_{term}", value)
        return loss

    def _logs_this_step(self) -> bool:
        """Whether Lightning writes this step's logged values: every `log_every_n_steps` optimiser steps (counted
        from 1), and on the step that stops training; during training_step, before the step is counted."""
        every = self.trainer.log_every_n_steps
        return every > 0 and ((self.global_step + 1) % every == 0 or self.trainer.should_stop)

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> dict[str, Tensor]:
        return self._step(batch, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> dict[str, Tensor]:
        return self._step(batch, "test")

    def epoch_values(self, stage: str) -> dict[str, Tensor]:
        """The stage's metrics over the epoch, keyed `{stage}/<name>`; subclasses may add derived values."""
        self._update_metrics(stage)
        values = {"loss": getattr(self, f"{stage}_loss_mean").compute(), **getattr(self, f"{stage}_metrics").compute()}
        return {f"{stage}/{key}": value for key, value in values.items()}

    def _log_epoch(self, stage: str) -> dict[str, Tensor]:
        # torchmetrics already reduced the states across ranks, so every rank logs the same values.
        values = self.epoch_values(stage)
        self.log_dict(values, prog_bar=stage == "val", sync_dist=False)
        getattr(self, f"{stage}_loss_mean").reset()
        getattr(self, f"{stage}_metrics").reset()
        return values

    def on_train_epoch_end(self) -> None:
        self._log_epoch("train")

    def on_validation_epoch_end(self) -> None:
        values = self._log_epoch("val")
        if self.trainer.sanity_checking or self.monitor not in values:
            return
        self.best.update(values[self.monitor])
        best = self.best.compute()
        self.log(f"{self.monitor}_best", best)
        self.log("hp_metric", best)

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    def setup(self, stage: str) -> None:
        if stage == "fit":  # before Lightning restores a checkpoint's generators over it
            seed_apart(self.trainer)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Every save passes here, on every rank: weights a non-finite loss has touched never reach a checkpoint.
        self.finite_watch.check(self.trainer.strategy)
        checkpoint["rng_states"] = every_rank_state(self.trainer)
        checkpoint[CYCLE_START_KEY] = self.lr_cycle_start

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        restore_own_state(checkpoint.get("rng_states", []), self.trainer)
        if self.trainer.state.fn != TrainerFn.FITTING or not self.scheduler_config:
            return
        factory, interval = self.scheduler_config["scheduler"], self.scheduler_config.get("interval", "epoch")
        if length_args(factory):  # called before configure_optimizers, which sizes the cycle from this
            end = run_end(self.trainer, interval, factory)
            self.lr_cycle_start, self.new_lr_cycle = cycle_start_on_resume(checkpoint, end)

    def on_train_start(self) -> None:
        if self.new_lr_cycle:  # Lightning restored the optimiser's groups with the old cycle's last rate
            for group, settings in zip(self.trainer.optimizers[0].param_groups, self.cycle_settings, strict=False):
                group.update(settings)

    def configure_optimizers(self) -> Optimizer | dict[str, Any]:
        optimizer = self.optimizer_factory(self._parameter_groups())
        for group in optimizer.param_groups:
            group["lr"] *= group.get("lr_scale", 1.0)
        if not self.scheduler_config:
            return optimizer
        factory = self.scheduler_config["scheduler"]
        length = {}
        if names := length_args(factory):
            end = run_end(self.trainer, self.scheduler_config.get("interval", "epoch"), factory)
            cycle = max(end - self.lr_cycle_start, 1)  # the whole run, or what a resume added (schedule.py)
            length = {name: cycle for name in names} | warm_up_of_two_steps(factory, cycle)
        scheduler = factory(optimizer, **length, **scaled_peaks(factory, optimizer))
        self.cycle_settings = group_settings(optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {**self.scheduler_config, "scheduler": scheduler}}

    def _parameter_groups(self) -> list[nn.Parameter] | list[dict[str, Any]]:
        """The parameters that require gradients; the backbone's in a group of their own when it learns at a
        scaled rate. Frozen ones join too when a callback freezes them later (gradual unfreezing): they get no
        gradient, so the optimiser skips them, and the scheduler sees the same groups all run.
        """
        trainable = [p for p in self.parameters() if p.requires_grad]
        if self.backbone_lr_scale == 1.0:
            return trainable
        in_backbone = {id(p) for p in self.backbone.parameters()}
        groups = [
            {"name": "head", "params": [p for p in trainable if id(p) not in in_backbone]},
            {"name": "backbone", "params": [p for p in trainable if id(p) in in_backbone],
             "lr_scale": self.backbone_lr_scale},
        ]  # fmt: skip
        return [group for group in groups if group["params"]]
