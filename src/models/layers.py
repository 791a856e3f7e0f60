"""Building blocks and option checks that the convolutional nets share."""

import math
from collections.abc import Callable, Collection
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from src.models.classifier import activation_layer


def _group_norm(channels: int) -> nn.GroupNorm:
    # 8 groups (fewer where the width is not a multiple of 8): our widths start at 16, where 32 groups would
    # normalise single channels, which is instance norm.
    return nn.GroupNorm(math.gcd(channels, 8), channels)


def _instance_norm(channels: int) -> nn.InstanceNorm2d:
    return nn.InstanceNorm2d(channels, affine=True)  # affine, as the other norms, so the norm can learn a scale


NORMS: dict[str, Callable[[int], nn.Module]] = {
    "batch": nn.BatchNorm2d,
    "group": _group_norm,
    "instance": _instance_norm,
}


def check_choice(key: str, value: Any, allowed: Collection[Any]) -> None:
    """Fail, naming the config key, the value and the allowed values, unless `value` is one of `allowed`."""
    if value not in allowed:
        names = ", ".join("null" if choice is None else repr(choice) for choice in allowed)
        raise ValueError(f"{key} must be one of {names}; got {value!r}")


def check_dropout(dropout: float, key: str = "model.dropout") -> None:
    if not 0 <= dropout < 1:
        raise ValueError(f"{key} must be in [0, 1), got {dropout}; 0 turns dropout off")


def check_positive(key: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{key} must be a positive integer, got {value!r}")


def conv_norm_act(
    width_in: int,
    width: int,
    kernel: int,
    stride: int = 1,
    padding: int | None = None,
    norm: str | None = "batch",
    activation: str = "relu",
    activation_key: str = "model.activation",
) -> list[nn.Module]:
    """Conv -> norm -> activation, (B, width_in, h, w) -> (B, width, h', w'); padding None keeps h at stride 1.

    The conv has no bias before a norm (the norm's shift replaces it); the activation works in place where it
    can, which saves one feature map of memory per layer (conv and norm backward never read their output).
    """
    layers: list[nn.Module] = [
        nn.Conv2d(width_in, width, kernel, stride, kernel // 2 if padding is None else padding, bias=norm is None)
    ]
    layers += [NORMS[norm](width)] if norm else []
    layers.append(activation_layer(activation, inplace=True, key=activation_key))
    return layers


def double_conv(width_in: int, width: int, kernel: int, norm: str | None, activation: str) -> list[nn.Module]:
    """The U-Net level: two conv-norm-act at stride 1, (B, width_in, h, w) -> (B, width, h, w)."""
    return [
        *conv_norm_act(width_in, width, kernel, norm=norm, activation=activation),
        *conv_norm_act(width, width, kernel, norm=norm, activation=activation),
    ]


def pad_to_multiple(x: Tensor, multiple: int) -> Tensor:
    """x: (B, C, H, W) -> (B, C, H', W') zero-padded at the bottom and right to the next multiples of `multiple`.

    Returns x itself, not a copy, when it fits already; while torch.export traces (ONNX export), it always pads
    (by 0 where it fits), so that the graph pads at every size, not only where the traced size needed it.
    """
    height, width = x.shape[-2:]
    pad_h, pad_w = -height % multiple, -width % multiple
    return F.pad(x, (0, pad_w, 0, pad_h)) if torch.compiler.is_exporting() or pad_h or pad_w else x


class UpBlock(nn.Module):
    """Upsample to the skip's size, concatenate the skip, two conv-norm-act.

    x (B, width_in, h, w), skip (B, width_skip, H, W) -> (B, width_out, H, W). `up="bilinear"`: a 1x1 conv to
    `width_up` channels, then bilinear resizing to (H, W); `up="transposed"`: ConvTranspose2d(2, stride 2) to
    `width_up` channels, so H, W must be 2h, 2w.
    """

    def __init__(
        self,
        width_in: int,
        width_skip: int,
        width_up: int,
        width_out: int,
        up: str = "bilinear",
        kernel: int = 3,
        norm: str | None = "batch",
        activation: str = "relu",
    ) -> None:
        super().__init__()
        # The 1x1 conv runs before resizing: both are linear and bilinear weights sum to one, so the order
        # does not change the result, and at the low resolution the conv costs a quarter.
        bias = norm is None  # the norm after the concatenation cancels a constant shift
        if up == "transposed":
            self.up: nn.Module = nn.ConvTranspose2d(width_in, width_up, 2, stride=2, bias=bias)
        else:
            self.up = nn.Conv2d(width_in, width_up, 1, bias=bias)
        self.resize = up != "transposed"
        self.conv = nn.Sequential(*double_conv(width_up + width_skip, width_out, kernel, norm, activation))

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        """x: (B, width_in, h, w), skip: (B, width_skip, H, W) -> (B, width_out, H, W)."""
        x = self.up(x)
        if self.resize:
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.conv(torch.cat([x, skip], dim=1))  # (B, width_up + width_skip, H, W)


class MirrorAverage(nn.Module):
    """Test-time augmentation by a left-right mirror: images (B, C, H, W) -> the mean of `net`'s outputs for
    the images and their mirrors (same shape as `net`'s). Only for outputs a mirror keeps (a class, a label set)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, images: Tensor) -> Tensor:
        return (self.net(images) + self.net(images.flip(-1))) / 2
