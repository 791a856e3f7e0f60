"""Images for generative models: pixels in [0, 1] (no normalisation), optionally binarised the way the
density-estimation literature does it, labels kept for conditional models and for colouring latent plots.

`GenerativeImages` goes in front of any classification data module (`GenerativeFashionMNIST` below), so a
data set needs no loader of its own to become generative data, and its config keeps its own keys.
"""

from typing import Any, ClassVar

import torch
from torch import Tensor

from src.data.base import InMemoryDataset
from src.data.classification import ClassificationDataModule
from src.data.mnist import FashionMNISTDataModule, MNISTDataModule


def binarize_once(images: Tensor, seed: int) -> Tensor:
    """uint8 (N, C, H, W) -> uint8 of 0 or 255: each pixel on with probability pixel / 255, drawn once by `seed`."""
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(images.shape, generator=generator) < images / 255).to(torch.uint8) * 255


def binarize(images: Tensor) -> Tensor:
    """A fresh Bernoulli draw per pixel, on with probability its grey level: images uint8 0..255 or float in
    [0, 1] (B, C, H, W) -> float 0 or 1. Compares against uniform draws, several times faster than
    torch.bernoulli on CPU; uint8 images are compared as stored (a uniform integer 0..254 is below g with
    probability g / 255), which saves converting the batch to float first."""
    if images.dtype == torch.uint8:
        draws = torch.randint(0, 255, images.shape, dtype=torch.uint8, device=images.device)
    else:
        draws = torch.rand_like(images)
    return (draws < images).float()


class GenerativeImages(ClassificationDataModule):
    """Batches (images (B, C, H, W) float in [0, 1], labels (B,)); the generative task models the images.

    binarize: dynamic binarisation (Salakhutdinov and Murray, 2008; IWAE, Exemplar VAE): a training image is a
    fresh Bernoulli draw per pixel (probability = grey level) each time it is served, so the model never sees
    the same binary image twice; the validation and test images are binarised once, by `data.seed`, so every
    evaluation scores the same binary set. False: grey levels as stored (for gaussian or continuous_bernoulli
    likelihoods). The data set's augmentation options still apply to training images, before the draw.
    """

    task: ClassVar[str] = "generative"

    def __init__(self, *, binarize: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.binarize = binarize
        # Pixels stay in [0, 1]: a likelihood of normalised values would not be one of the images.
        self.mean, self.std = (0.0,) * self.in_channels, (1.0,) * self.in_channels

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        super().setup(stage)
        if self.binarize:  # seeds per split: the test set's draw does not depend on the validation set's size
            for offset, split in enumerate(("val", "test"), start=1):
                images, labels = self.splits[split].tensors
                self.splits[split] = InMemoryDataset(binarize_once(images, self.seed + offset), labels)

    def normalize(self, images: Tensor) -> Tensor:
        """The identity: the likelihood scores pixels in [0, 1] (normalising by mean 0 and std 1 would cost two
        passes over every batch for nothing)."""
        return images

    def on_after_batch_transfer(self, batch: tuple[Tensor, Tensor], dataloader_idx: int) -> tuple[Tensor, Tensor]:
        """As every data module; training batches without geometry to apply are binarised straight from uint8."""
        images, labels = batch
        training = self.trainer is not None and self.trainer.training
        geometry = self.random_scale or self.random_crop_padding or self.random_flip
        if training and self.binarize and not geometry:
            return binarize(images), labels.long()
        return super().on_after_batch_transfer(batch, dataloader_idx)

    def augment(self, images: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        """Training batches: the configured geometry, then (binarize) a fresh Bernoulli draw per pixel."""
        images, labels = super().augment(images, labels)
        return (binarize(images) if self.binarize else images), labels


class GenerativeMNIST(GenerativeImages, MNISTDataModule):
    """MNIST digits for generative models (see GenerativeImages)."""


class GenerativeFashionMNIST(GenerativeImages, FashionMNISTDataModule):
    """Fashion-MNIST for generative models (see GenerativeImages)."""
