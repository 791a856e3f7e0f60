"""Variational autoencoders: an encoder to a diagonal Gaussian posterior q(z|x), the reparameterised sample, and a
decoder to one likelihood parameter per pixel (the loss, src/losses/elbo.py, says which likelihood it is).

`VAEMLP` and `VAEConv` differ only in their bodies; the posterior head, the sampling and the conditional option
(one-hot labels joined to the encoder's features and to z) are `VAE`'s, so a variant is an option, not a copy.
"""

from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from src.models.cnn import POOLS, _conv_block, _feature_map_size, per_layer
from src.models.layers import check_positive, conv_norm_act
from src.models.mlp import dense_blocks


class VAEOutput(NamedTuple):
    """What a VAE's forward returns for B images and a latent size L."""

    params: Tensor  # (B, C, H, W): the decoder's likelihood parameter per pixel (logits or means)
    mean: Tensor  # (B, L): the posterior's mean
    log_var: Tensor  # (B, L): its log-variance, bounded
    z: Tensor  # (B, L): the reparameterised sample mean + exp(log_var / 2) * eps


class VAE(nn.Module):
    """encoder: images (B, C, H, W) -> features (B, num_features); decoder: (B, latent_size [+ num_classes]) ->
    params (B, C, H, W). The posterior head maps the features [+ one-hot label] to mean and log-variance; the
    log-variance passes through Hardtanh(log_var_min, log_var_max) (the Exemplar VAE's bounds: no variance of
    e^-6 or below, which would blow the KL up, nor above e^2).

    conditional: the labels (B,) are fed to encoder and decoder as one-hot vectors (a conditional VAE); they
    must then be given to `forward`, `encode` and `decode`.
    """

    def __init__(
        self,
        encoder: nn.Module,
        num_features: int,
        decoder: nn.Module,
        latent_size: int,
        num_classes: int,
        conditional: bool = False,
        log_var_min: float = -6.0,
        log_var_max: float = 2.0,
    ) -> None:
        super().__init__()
        check_positive("model.latent_size", latent_size)
        if not log_var_min < log_var_max:
            raise ValueError(f"model.log_var_min={log_var_min} must be below model.log_var_max={log_var_max}")
        self.latent_size = latent_size
        self.num_classes = num_classes
        self.conditional = conditional
        self.encoder = encoder
        self.posterior = nn.Linear(num_features + self.condition_size, 2 * latent_size)
        self.bound_log_var = nn.Hardtanh(log_var_min, log_var_max)
        self.decoder = decoder

    @property
    def condition_size(self) -> int:
        """How many inputs the label adds to the posterior head and the decoder."""
        return self.num_classes if self.conditional else 0

    def _join(self, features: Tensor, labels: Tensor | None) -> Tensor:
        """(B, F) -> (B, F + num_classes) with the one-hot labels when conditional, else unchanged."""
        if not self.conditional:
            return features
        if labels is None:
            raise ValueError("a conditional VAE needs the labels (B,) beside the images or latents")
        return torch.cat([features, F.one_hot(labels, self.num_classes).to(features.dtype)], dim=1)

    def encode(self, images: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """images (B, C, H, W) in [0, 1] -> the posterior's mean and bounded log-variance, each (B, L)."""
        mean, log_var = self.posterior(self._join(self.encoder(images), labels)).chunk(2, dim=1)
        return mean, self.bound_log_var(log_var)

    @staticmethod
    def sample(mean: Tensor, log_var: Tensor) -> Tensor:
        """The reparameterised draw z = mean + exp(log_var / 2) * eps, eps ~ N(0, I): gradients reach both."""
        return mean + (0.5 * log_var).exp() * torch.randn_like(mean)

    def decode(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """z (B, L) -> the likelihood parameter per pixel (B, C, H, W)."""
        return self.decoder(self._join(z, labels))

    def forward(self, images: Tensor, labels: Tensor | None = None) -> VAEOutput:
        """images (B, C, H, W) in [0, 1] [, labels (B,)] -> VAEOutput (params, mean, log_var, z)."""
        mean, log_var = self.encode(images, labels)
        z = self.sample(mean, log_var)
        return VAEOutput(self.decode(z, labels), mean, log_var, z)


class VAEMLP(VAE):
    """Fully connected VAE: flatten -> dense blocks (hidden_sizes) -> posterior; z -> dense blocks (hidden_sizes
    reversed) -> Linear to C*H*W -> (B, C, H, W). The blocks are the MLP classifier's (`dense_blocks`); `gated`
    makes each a gated dense layer (Linear to twice the width, GLU) in place of `activation`.
    """

    def __init__(
        self,
        in_channels: int,
        image_size: Sequence[int],
        num_classes: int,
        latent_size: int = 40,
        hidden_sizes: Sequence[int] = (300, 300),
        activation: str = "gelu",
        batch_norm: bool = False,
        conditional: bool = False,
        log_var_min: float = -6.0,
        log_var_max: float = 2.0,
        gated: bool = False,
    ) -> None:
        check_positive("model.latent_size", latent_size)  # before any layer of that size is built
        if not hidden_sizes or any(size <= 0 for size in hidden_sizes):
            raise ValueError(f"model.hidden_sizes must be one or more positive widths, got {list(hidden_sizes)}")
        shape = (in_channels, *image_size)
        pixels = in_channels * image_size[0] * image_size[1]
        encoder = nn.Sequential(
            nn.Flatten(), *dense_blocks(pixels, hidden_sizes, activation, batch_norm=batch_norm, gated=gated)
        )
        latent_in = latent_size + (num_classes if conditional else 0)
        widths = list(reversed(hidden_sizes))
        decoder = nn.Sequential(
            *dense_blocks(latent_in, widths, activation, batch_norm=batch_norm, gated=gated),
            nn.Linear(widths[-1], pixels),
            nn.Unflatten(1, shape),
        )
        super().__init__(encoder, hidden_sizes[-1], decoder, latent_size, num_classes, conditional,
                         log_var_min, log_var_max)  # fmt: skip


class _ConvDecoder(nn.Module):
    """z (B, latent_in) -> Linear -> (B, channels[-1], h, w) -> per level: resize to the encoder's size there,
    conv-norm-act -> a last conv to (B, out_channels, H, W). `sizes`: the encoder's input size of each level.
    """

    def __init__(
        self,
        latent_in: int,
        channels: list[int],
        kernels: list[int],
        sizes: list[tuple[int, int]],
        bottom: tuple[int, int],
        out_channels: int,
        batch_norm: bool,
        activation: str,
    ) -> None:
        super().__init__()
        self.bottom = (channels[-1], *bottom)
        self.project = nn.Sequential(
            nn.Linear(latent_in, channels[-1] * bottom[0] * bottom[1]), nn.Unflatten(1, self.bottom)
        )
        widths_out = [*channels[-2::-1], channels[0]]  # channels reversed, the first level kept at channels[0]
        norm = "batch" if batch_norm else None
        self.sizes = sizes[::-1]
        self.levels = nn.ModuleList(
            nn.Sequential(*conv_norm_act(width_in, width, kernel, norm=norm, activation=activation))
            for width_in, width, kernel in zip(channels[::-1], widths_out, kernels[::-1], strict=True)
        )
        self.head = nn.Conv2d(channels[0], out_channels, kernels[0], padding=kernels[0] // 2)

    def forward(self, z: Tensor) -> Tensor:
        """z (B, latent_in) -> (B, out_channels, H, W)."""
        x = self.project(z)
        for size, level in zip(self.sizes, self.levels, strict=True):
            x = level(F.interpolate(x, size=size, mode="nearest") if tuple(x.shape[-2:]) != size else x)
        return self.head(x)


class VAEConv(VAE):
    """Convolutional VAE. Encoder: the ConvNet classifier's blocks (Conv(kernel, stride) -> BatchNorm ->
    activation -> pool) then flatten; decoder: a linear map back to the last feature map, then per level (in
    reverse) nearest upsampling to the encoder's size at that level and conv-norm-act, and a last conv to the
    image's channels. Any image size works: the sizes are measured on the encoder at construction.
    kernel_sizes, strides and pool take one value for every layer or one per layer (pool: max | avg | null).
    """

    def __init__(
        self,
        in_channels: int,
        image_size: Sequence[int],
        num_classes: int,
        latent_size: int = 40,
        channels: Sequence[int] = (32, 64),
        kernel_sizes: int | Sequence[int] = 3,
        strides: int | Sequence[int] = 2,
        pool: str | Sequence[str | None] | None = None,
        pool_size: int = 2,
        batch_norm: bool = True,
        activation: str = "gelu",
        conditional: bool = False,
        log_var_min: float = -6.0,
        log_var_max: float = 2.0,
    ) -> None:
        check_positive("model.latent_size", latent_size)
        if not channels:
            raise ValueError("model.channels must list at least one layer's output channels")
        n = len(channels)
        kernels = per_layer("model.kernel_sizes", kernel_sizes, n)
        stride_list, pools = per_layer("model.strides", strides, n), per_layer("model.pool", pool, n)
        if bad := [p for p in pools if p is not None and p not in POOLS]:
            raise ValueError(f"model.pool must be 'max', 'avg' or null, got {bad[0]!r}")
        widths_in, pads = [in_channels, *channels[:-1]], [k // 2 for k in kernels]
        blocks = [
            _conv_block(w_in, w, k, s, pad, p, pool_size, pool_size, batch_norm, activation)
            for w_in, w, k, s, pad, p in zip(widths_in, channels, kernels, stride_list, pads, pools, strict=True)
        ]
        # Each level's input size, which the decoder restores on its way up (and a clear error below 1x1).
        sizes = [
            _feature_map_size(
                tuple(image_size), kernels[:i], stride_list[:i], pads[:i], pools[:i], pool_size, pool_size
            )
            for i in range(n + 1)
        ]
        sizes, bottom = sizes[:-1], sizes[-1]
        encoder = nn.Sequential(*blocks, nn.Flatten())
        latent_in = latent_size + (num_classes if conditional else 0)
        decoder = _ConvDecoder(latent_in, list(channels), kernels, sizes, bottom, in_channels, batch_norm, activation)
        num_features = channels[-1] * bottom[0] * bottom[1]
        super().__init__(encoder, num_features, decoder, latent_size, num_classes, conditional,
                         log_var_min, log_var_max)  # fmt: skip
