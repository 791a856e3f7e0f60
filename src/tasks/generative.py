"""Generative modelling with a VAE: the negative ELBO in nats per image, its parts, active units, and at test the
importance-weighted bound on -log p(x) that the density-estimation literature compares."""

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
import torch.nn as nn
from lightning.pytorch import LightningDataModule
from torch import Tensor
from torch.optim import Optimizer
from torchmetrics import Metric

from src.inference.files import PredictionFiles
from src.losses.elbo import NegativeELBO, importance_weighted_nll
from src.models.vae import VAE
from src.tasks.base import METRIC_UPDATE_ELEMENTS, Task

STATS = ("reconstruction", "kl", "iw_bound")  # the per-image columns of ELBOParts' input, before the means


class ELBOParts(Metric):
    """Split-level figures from per-image rows [reconstruction, KL, IW bound (NaN where not computed), posterior
    mean (L values)], all in nats: update(stats (B, 3 + L), labels (B,)) (the labels are not used).

    compute() -> `nelbo` (reconstruction + KL: the negative ELBO with beta = 1, no warm-up nor free bits, i.e.
    the bound itself, not the training objective), `reconstruction`, `kl`, `iw_bound` (when any row had one) and
    `active_units`: the latent dimensions whose posterior mean varies over the split with variance > `threshold`
    (Burda et al. 2016's 0.01); a collapsed unit's mean stays at the prior's 0 whatever the image.
    """

    full_state_update = False

    def __init__(self, latent_size: int, threshold: float = 0.01) -> None:
        super().__init__()
        self.threshold = threshold
        # Sums in float64: 50,000 images of means near 0 would lose the variance in float32.
        self.add_state("totals", torch.zeros(len(STATS) + 2, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("moments", torch.zeros(2, latent_size, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, stats: Tensor, labels: Tensor) -> None:
        stats = stats.double()
        iw = stats[:, 2]
        has_iw = ~iw.isnan()
        self.totals += torch.stack(
            [stats[:, 0].sum(), stats[:, 1].sum(), iw[has_iw].sum(), has_iw.sum(), torch.tensor(len(stats))]
        ).to(self.totals)
        means = stats[:, len(STATS) :]
        self.moments += torch.stack([means.sum(0), means.square().sum(0)])

    def compute(self) -> dict[str, Tensor]:
        reconstruction, kl, iw, iw_count, count = self.totals
        mean, mean_square = self.moments / count
        values = {
            "nelbo": (reconstruction + kl) / count,
            "reconstruction": reconstruction / count,
            "kl": kl / count,
            "active_units": ((mean_square - mean.square()) > self.threshold).sum(),
        }
        if iw_count:
            values["iw_bound"] = iw / iw_count
        return {key: value.float() for key, value in values.items()}


class GenerativeTask(Task):
    """Trains a VAE (`net`, src.models.VAE) on images (B, C, H, W) in [0, 1] with the negative ELBO (`loss`,
    src.losses.NegativeELBO); the labels (B,) are fed to conditional VAEs only.

    Per stage and epoch, in nats per image (ELBOParts): `nelbo`, `reconstruction`, `kl`, `active_units`; `loss`
    is the training objective (with beta, warm-up and free bits). At test also `iw_bound`: the importance-weighted
    bound with `iw_samples` samples per image (k; 0 turns it off), decoded `iw_chunk` samples at a time.

    kl_warmup_epochs: the KL's weight in the objective rises linearly from 0 to 1 over this many epochs (step by
    step; 0: no warm-up), which lets the decoder learn before the KL switches latent units off.
    The other arguments: see `Task`; `monitor` defaults to val/nelbo.
    """

    name = "generative"

    def __init__(
        self,
        net: nn.Module,
        loss: nn.Module,
        optimizer: Callable[[Iterable[nn.Parameter]], Optimizer],
        kl_warmup_epochs: float = 0.0,
        iw_samples: int = 500,
        iw_chunk: int = 50,
        active_threshold: float = 0.01,
        **options: Any,
    ) -> None:
        """options: those every task shares (`Task`: scheduler, monitor, channels_last, compile, ...)."""
        if kl_warmup_epochs < 0 or iw_samples < 0 or iw_chunk < 1:
            raise ValueError(
                f"task.kl_warmup_epochs and task.iw_samples must be >= 0 and task.iw_chunk >= 1, got "
                f"{kl_warmup_epochs}, {iw_samples}, {iw_chunk}"
            )
        metrics = {"elbo": ELBOParts(getattr(net, "latent_size", 1), active_threshold)}
        super().__init__(net, loss, optimizer, metrics, **{"monitor": "val/nelbo", "monitor_mode": "min", **options})
        self.kl_warmup_epochs = kl_warmup_epochs
        self.iw_samples = iw_samples
        self.iw_chunk = iw_chunk

    def check_fits(self, datamodule: LightningDataModule, names: Mapping[str, str]) -> None:
        """Fail before any data loads unless the net is a VAE of the data's shape and the loss is its ELBO with a
        likelihood the pixels allow."""
        where = f"the generative task of {names['data']}"
        if not isinstance(self.net, VAE):
            raise ValueError(
                f"{names['model']} is not a VAE, which {where} trains; use model=vae_mlp or model=vae_conv"
            )
        if not isinstance(self.loss, NegativeELBO):
            raise ValueError(
                f"{names['loss']} cannot train {where}: it scores logits against labels; use loss=elbo "
                "(loss.likelihood=bernoulli, gaussian or continuous_bernoulli)"
            )
        if self.loss.needs_binary_pixels and not datamodule.binarize:
            raise ValueError(
                f"loss.likelihood=bernoulli models binary pixels but {names['data']} serves grey levels "
                "(data.binarize=false); set data.binarize=true, or loss.likelihood=continuous_bernoulli or gaussian"
            )
        if self.net.conditional and self.net.num_classes != datamodule.num_classes:
            raise ValueError(
                f"the conditional {names['model']} takes {self.net.num_classes} classes but {names['data']} has "
                f"{datamodule.num_classes}; let model.num_classes interpolate ${{data.num_classes}}"
            )
        labels = [torch.zeros(2, dtype=torch.long)] if self.net.conditional else []
        params = self.probe_net(datamodule, names, *labels).params
        shape = (datamodule.in_channels, *datamodule.image_size)
        if tuple(params.shape[1:]) != shape:
            raise ValueError(
                f"{names['model']} decodes {tuple(params.shape[1:])} per image but {names['data']} has "
                f"{shape}; let the model config interpolate ${{data.in_channels}} and "
                "${data.image_size}"
            )

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Any:
        """images (B, C, H, W) in [0, 1] [, labels (B,)] -> the VAE's output (src.models.VAEOutput)."""
        return self.net(images, labels if self.net.conditional else None)

    def output_shapes(self, datamodule: LightningDataModule) -> list[tuple[int, ...]]:
        return [(datamodule.in_channels, *datamodule.image_size)]

    def example_targets(self, datamodule: LightningDataModule, batch_size: int) -> Tensor:
        return torch.zeros(batch_size, datamodule.in_channels, *datamodule.image_size)

    def on_train_batch_start(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        if self.kl_warmup_epochs:
            warmup_steps = self.kl_warmup_epochs * self.trainer.num_training_batches
            self.loss.kl_weight = min(1.0, (self.global_step + 1) / warmup_steps)

    def _step(self, batch: tuple[Tensor, Tensor], stage: str) -> dict[str, Tensor]:
        if stage == "train":
            return self._score(batch, stage)
        # The figures in nats come from float32 whatever trainer.precision trains in: under bf16 autocast the
        # vae_30min model's -ELBO of a test image moved by 0.08 nats on average and up to 3.
        with torch.autocast(self.device.type, enabled=False):
            return self._score(batch, stage)

    def _score(self, batch: tuple[Tensor, Tensor], stage: str) -> dict[str, Tensor]:
        images, labels = batch
        conditions = labels if self.net.conditional else None
        output = self.net(images, conditions)
        reconstruction, kl = self.loss.terms(output, images)
        loss = self.loss.objective(reconstruction, kl)
        iw = torch.full_like(reconstruction, math.nan)
        if stage == "test" and self.iw_samples:
            iw = importance_weighted_nll(self.net, self.loss, images, conditions, self.iw_samples, self.iw_chunk)
        stats = torch.cat([torch.stack([reconstruction, kl.sum(1), iw], 1), output.mean], 1).detach()
        queue = self.queued[stage]  # as Task._step: the metrics take the steps in bulk
        queue.append((stats, labels, loss.detach(), len(images)))
        if len(queue) * stats.numel() >= METRIC_UPDATE_ELEMENTS:
            self._update_metrics(stage)
        return {"loss": loss}

    def prediction_files(self) -> type[PredictionFiles]:
        from src.inference.generative import GenerativePredictions  # predict's writer, not needed to train

        return GenerativePredictions
