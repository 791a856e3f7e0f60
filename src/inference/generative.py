"""What predict writes for a VAE: each image's reconstruction (PNG) and posterior mean (latent_means.csv), and
with sample=N a grid of N images drawn from the prior (no input needed).

A reconstruction decodes the posterior mean (no sampling: the same image every time) and shows the likelihood's
mean image E[x|z] (src/losses/elbo.py: pixel_means), at the training size. The images are fed as training fed
them, grey levels in [0, 1]; a run trained on binarised images still takes grey ones (their Bernoulli means).
"""

from pathlib import Path
from typing import ClassVar

import torch
import torch.nn as nn
from lightning.pytorch import LightningModule
from PIL import Image
from torch import Tensor
from torchvision.utils import make_grid, save_image

from src.inference.rows import CsvPredictions, number_cells


class GenerativePredictions(CsvPredictions):
    """reconstructions/<name>.png and latent_means.csv (path, z1 .. zL), in the order of the inputs."""

    outputs: ClassVar[tuple[str, ...]] = ("latent_means.csv", "reconstructions")
    table_name: ClassVar[str] = "latent_means.csv"

    @staticmethod
    def describe_outputs(num_outputs: int, class_names: list[str]) -> str:
        return (
            f"{num_outputs} values per image: the posterior mean z1..zL (L = {num_outputs} - C*H*W of the input "
            "shape), then the reconstruction, the likelihood's mean image E[x|z] in [0, 1] flattened from (C, H, W)"
        )

    @staticmethod
    def forward(task: LightningModule) -> nn.Module:
        if task.net.conditional:
            raise ValueError("python -m src.predict cannot serve a conditional VAE: it takes a label per image")
        return MeansAndReconstructions(task.net, task.loss)

    def _latent_size(self) -> int:
        return int(self.options["latent_size"])

    def prediction_columns(self) -> list[str]:
        return [f"z{i}" for i in range(1, self._latent_size() + 1)]

    def prediction_cells(self, logits: Tensor, sizes: list[tuple[int, int]]) -> list[list[str]]:
        return number_cells(logits[:, : self._latent_size()])

    def write(self, logits: Tensor, indices: list[int], paths: list[Path], names: list[str],
              sizes: list[tuple[int, int]]) -> None:  # fmt: skip
        super().write(logits, indices, paths, names, sizes)
        shape = self.options["image_shape"]  # (C, H, W)
        pixels = logits[:, self._latent_size() :].reshape(-1, *shape).mul(255).round().clamp(0, 255).byte()
        for picture, name in zip(pixels, names, strict=True):
            target = self.folder / "reconstructions" / f"{name}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            array = picture.permute(1, 2, 0).numpy()
            Image.fromarray(array[..., 0] if shape[0] == 1 else array).save(target)

    def finish(self, world_size: int) -> str:
        return f"{super().finish(world_size)}, reconstructions in {self.folder / 'reconstructions'}"


class MeansAndReconstructions(nn.Module):
    """What predict writes and export exports for a VAE: images (B, C, H, W) in [0, 1] -> (B, L + C*H*W), the
    posterior mean, then the decoded mean's likelihood mean image (deterministic: no sampling)."""

    def __init__(self, vae: nn.Module, loss: nn.Module) -> None:
        super().__init__()
        self.vae, self.loss = vae, loss

    def forward(self, images: Tensor) -> Tensor:
        means = self.vae.encode(images)[0]
        return torch.cat([means, self.loss.pixel_means(self.vae.decode(means)).flatten(1)], 1)


def write_samples(task: LightningModule, count: int, seed: int, target: Path) -> str:
    """`count` draws z ~ N(0, I) decoded to the likelihood's mean images, as one grid PNG (8 a row)."""
    if task.name != "generative":
        raise ValueError(f"sample=N draws from a generative model's prior, but the run trained the {task.name} task")
    if task.net.conditional:
        raise ValueError("sample=N cannot serve a conditional VAE yet: it takes a label per draw")
    z = torch.randn(count, task.net.latent_size, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        images = task.loss.pixel_means(task.net.decode(z))
    target.parent.mkdir(parents=True, exist_ok=True)
    save_image(make_grid(images, nrow=8), target)
    return f"drew {count} image(s) from the prior: {target}"
