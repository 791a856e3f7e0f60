"""Pictures of a VAE: what it reconstructs, what it samples, how its latent space is laid out."""

from pathlib import Path

import matplotlib.pyplot as plt
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from torch import Tensor
from torch.utils.tensorboard import SummaryWriter
from torchvision.utils import make_grid, save_image

from src.callbacks.pictures import first_samples, tensorboard_writer


class GenerativeImages(Callback):
    """After each validation epoch, to TensorBoard (tags under val/):
    - `reconstructions`: rows of `num_samples` fixed validation images (odd rows) above their reconstructions
      (the likelihood's mean decoded from the posterior mean);
    - `samples`: decoded draws from the prior, the same `num_samples` draws every epoch (seeded by `seed`);
    - `interpolations`: a row per pair of validation images, decoded from `steps` points on the line between
      their posterior means;
    - for a 2-D latent, `latent_means` (the posterior means of the first `projector_samples` validation images,
      coloured by class) and `manifold` (the decoded grid of prior quantiles);
    - the embedding projector: the posterior means of the first `projector_samples` validation images with
      their class names and the images as sprites.
    With `save_dir` (src.eval sets it), the test set's samples and reconstructions are written there as PNG.
    """

    def __init__(
        self, num_samples: int = 32, steps: int = 10, projector_samples: int = 500, seed: int = 0,
        save_dir: str | None = None,
    ) -> None:  # fmt: skip
        self.num_samples = num_samples
        self.steps = steps
        self.projector_samples = projector_samples
        self.seed = seed
        self.save_dir = Path(save_dir) if save_dir else None

    def on_validation_epoch_end(self, trainer: Trainer, task: LightningModule) -> None:
        writer = tensorboard_writer(trainer)
        if writer is None or trainer.sanity_checking:
            return
        was_training = task.training
        task.eval()
        with torch.no_grad():
            self._write(writer, trainer, task, trainer.global_step)
        task.train(was_training)

    def _write(self, writer: SummaryWriter, trainer: Trainer, task: LightningModule, step: int) -> None:
        images, labels = self._images(trainer, task, "val", max(self.num_samples, self.projector_samples))
        shown, shown_labels = images[: self.num_samples], labels[: self.num_samples]
        columns = min(16, self.num_samples)
        writer.add_image("val/reconstructions", self._reconstructions(task, shown, shown_labels, columns), step)
        writer.add_image("val/samples", make_grid(self._samples(task, self.num_samples), nrow=columns), step)
        writer.add_image("val/interpolations", self._interpolations(task, shown, shown_labels), step)
        means = task.net.encode(images, self._conditions(task, labels))[0]
        names = trainer.datamodule.class_names
        if task.net.latent_size == 2:
            writer.add_figure("val/latent_means", _scatter(means.cpu(), labels.cpu(), names), step)
            writer.add_image("val/manifold", self._manifold(task), step)
        count = self.projector_samples
        metadata = [names[label] for label in labels[:count].tolist()]
        writer.add_embedding(means[:count].cpu(), metadata, images[:count].cpu(), step, tag="latent_means")

    @staticmethod
    def _images(trainer: Trainer, task: LightningModule, split: str, count: int) -> tuple[Tensor, Tensor]:
        images, labels = first_samples(trainer, split, count)
        return trainer.datamodule.preprocess(images.to(task.device)), labels.to(task.device)

    @staticmethod
    def _conditions(task: LightningModule, labels: Tensor) -> Tensor | None:
        return labels if task.net.conditional else None

    def _decode(self, task: LightningModule, z: Tensor, labels: Tensor) -> Tensor:
        """z (N, L) -> the likelihood's mean images (N, C, H, W) in [0, 1], on the CPU."""
        return task.loss.pixel_means(task.net.decode(z, self._conditions(task, labels))).cpu()

    def _reconstructions(self, task: LightningModule, images: Tensor, labels: Tensor, columns: int) -> Tensor:
        """Rows of `columns` inputs, each row followed by their reconstructions: one (3, H', W') grid."""
        reconstructed = self._decode(task, task.net.encode(images, self._conditions(task, labels))[0], labels)
        rows = zip(images.cpu().split(columns), reconstructed.split(columns), strict=True)
        return make_grid(torch.cat([image for pair in rows for image in pair]), nrow=columns)

    def _prior_draws(self, task: LightningModule, count: int) -> tuple[Tensor, Tensor]:
        generator = torch.Generator().manual_seed(self.seed)  # the same draws every epoch: progress shows
        z = torch.randn(count, task.net.latent_size, generator=generator).to(task.device)
        return z, (torch.arange(count) % task.net.num_classes).to(task.device)

    def _samples(self, task: LightningModule, count: int) -> Tensor:
        return self._decode(task, *self._prior_draws(task, count))

    def _interpolations(self, task: LightningModule, images: Tensor, labels: Tensor) -> Tensor:
        """Pairs (image i, image i + half): `steps` points from one posterior mean to the other, one row each."""
        half = min(4, len(images) // 2)
        means = task.net.encode(images, self._conditions(task, labels))[0]
        weights = torch.linspace(0, 1, self.steps, device=means.device)[None, :, None]  # (1, steps, 1)
        line = means[:half, None] * (1 - weights) + means[half : 2 * half, None] * weights  # (half, steps, L)
        path_labels = labels[:half].repeat_interleave(self.steps)  # a conditional VAE keeps the first's class
        return make_grid(self._decode(task, line.flatten(0, 1), path_labels), nrow=self.steps)

    def _manifold(self, task: LightningModule, side: int = 15) -> Tensor:
        """The decoded grid of a 2-D latent at the prior's quantiles 1/(2 side) ... 1 - 1/(2 side)."""
        quantiles = torch.distributions.Normal(0.0, 1.0).icdf(torch.linspace(0.5 / side, 1 - 0.5 / side, side))
        z = torch.cartesian_prod(quantiles.flip(0), quantiles).flip(1).to(task.device)  # rows: z2 falls
        labels = torch.zeros(len(z), dtype=torch.long, device=task.device)
        return make_grid(self._decode(task, z, labels), nrow=side, padding=0)

    def on_test_epoch_end(self, trainer: Trainer, task: LightningModule) -> None:
        if self.save_dir is None or not trainer.is_global_zero:
            return
        self.save_dir.mkdir(parents=True, exist_ok=True)
        with torch.no_grad():
            images, labels = self._images(trainer, task, "test", self.num_samples)
            columns = min(16, self.num_samples)
            save_image(self._reconstructions(task, images, labels, columns), self.save_dir / "reconstructions.png")
            save_image(make_grid(self._samples(task, 64), nrow=8), self.save_dir / "samples.png")


def _scatter(means: Tensor, labels: Tensor, names: list[str]) -> plt.Figure:
    """A 2-D latent's posterior means (N, 2), coloured by class."""
    figure, ax = plt.subplots(figsize=(6, 5))
    points = ax.scatter(means[:, 0], means[:, 1], c=labels, cmap="tab10", s=3, vmin=-0.5, vmax=len(names) - 0.5)
    colorbar = figure.colorbar(points, ticks=range(len(names)))
    colorbar.ax.set_yticklabels(names, fontsize=7)
    ax.set(xlabel="z1", ylabel="z2", title="posterior means of the validation images")
    return figure
