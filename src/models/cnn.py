"""A configurable convolutional classifier: the kernel and pooling choices are first-class knobs."""

from collections.abc import Sequence
from typing import Literal, TypeVar

import torch.nn as nn

from src.models.classifier import Classifier, activation_layer
from src.models.layers import check_choice, check_dropout, conv_norm_act

T = TypeVar("T")
POOLS: dict[str, type[nn.Module]] = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}
# Global pools over the last feature map: average (true, the usual classifier head) or max ("is it anywhere?",
# the head for detecting which of several objects show).
GLOBAL_POOLS: dict[str | bool, type[nn.Module]] = {
    True: nn.AdaptiveAvgPool2d, "avg": nn.AdaptiveAvgPool2d, "max": nn.AdaptiveMaxPool2d
}  # fmt: skip
# Literal types, so that the config check (src/run/config_check.py) can name the allowed values.
Pool = Literal["max", "avg"]
GlobalPool = bool | Literal["avg", "max"]
Padding = int | Literal["same"]


def per_layer(key: str, value: T | Sequence[T], num_layers: int) -> list[T]:
    """One value for every layer, or a list with one value per layer; `key` is the config key errors name."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != num_layers:
            raise ValueError(f"{key} has {len(value)} values for {num_layers} layers; give one or {num_layers}")
        return list(value)
    return [value] * num_layers


def _conv_block(
    width_in: int,
    width: int,
    kernel: int,
    stride: int,
    padding: int,
    pool: str | None,
    pool_size: int,
    pool_stride: int,
    batch_norm: bool,
    activation: str,
    activation_key: str = "model.activation",
) -> nn.Sequential:
    """Conv -> BatchNorm -> activation -> pool: (B, width_in, h, w) -> (B, width, h', w')."""
    norm = "batch" if batch_norm else None
    block = conv_norm_act(width_in, width, kernel, stride, padding, norm, activation, activation_key)
    block += [POOLS[pool](pool_size, pool_stride)] if pool else []
    return nn.Sequential(*block)


def _feature_map_size(
    size: tuple[int, int],
    kernels: list[int],
    strides: list[int],
    paddings: list[int],
    pools: list[str | None],
    pool_size: int,
    pool_stride: int,
) -> tuple[int, int]:
    """The (h, w) after every block; fails, naming the layer, where a map would shrink below 1x1."""
    for layer, (kernel, stride, pad, pool) in enumerate(zip(kernels, strides, paddings, pools, strict=True)):
        size = _checked(size, layer, f"conv (kernel {kernel}, stride {stride}, padding {pad})", kernel, stride, pad)
        if pool:
            what = f"{pool} pool (size {pool_size}, stride {pool_stride})"
            size = _checked(size, layer, what, pool_size, pool_stride, 0)
    return size


def _checked(size: tuple[int, int], layer: int, what: str, kernel: int, stride: int, padding: int) -> tuple[int, int]:
    """The feature map size after a conv or pool; fails, naming the layer, below 1x1."""
    out = tuple((side + 2 * padding - kernel) // stride + 1 for side in size)
    if min(out) < 1:
        raise ValueError(
            f"model layer {layer + 1}: the {what} turns a {size[0]}x{size[1]} feature map into "
            f"{out[0]}x{out[1]}; use fewer layers or pools, smaller kernels or strides, or more padding"
        )
    return out


class ConvNet(Classifier):
    """Conv blocks -> flatten (or global average / max pool) -> optional hidden layer -> linear head.

    Block i: Conv2d(channels[i], kernel_sizes[i], strides[i], paddings[i]) -> BatchNorm -> activation ->
    pool[i] ("max", "avg" or None) with `pool_size` and `pool_stride`. `paddings="same"` pads k // 2, which
    keeps the size at stride 1 for odd kernels. `global_pool`: false (flatten), true or "avg" (global average
    pool), "max" (global max pool: each channel's strongest response anywhere). Input (B, in_channels,
    *image_size) float; output logits (B, num_classes). Construction fails, naming the layer, if a feature map
    would shrink below 1x1.
    """

    def __init__(
        self,
        in_channels: int,
        image_size: Sequence[int],
        num_classes: int,
        channels: Sequence[int] = (32, 64, 128),
        kernel_sizes: int | Sequence[int] = 3,
        strides: int | Sequence[int] = 1,
        paddings: Padding | Sequence[Padding] = "same",
        pool: Pool | Sequence[Pool | None] | None = "max",
        pool_size: int = 2,
        pool_stride: int | None = None,
        global_pool: GlobalPool = False,
        batch_norm: bool = True,
        activation: str = "relu",
        dropout: float = 0.0,
        hidden_size: int | None = None,
    ) -> None:
        if not channels:
            raise ValueError("model.channels must list at least one layer's output channels")
        check_dropout(dropout)
        n = len(channels)
        kernels, stride_list = per_layer("model.kernel_sizes", kernel_sizes, n), per_layer("model.strides", strides, n)
        paddings = per_layer("model.paddings", paddings, n)
        for padding in paddings:
            if padding != "same" and (isinstance(padding, bool) or not isinstance(padding, int) or padding < 0):
                raise ValueError(f"model.paddings must be 'same' or an integer >= 0 (per layer), got {padding!r}")
        pads = [k // 2 if p == "same" else p for k, p in zip(kernels, paddings, strict=True)]
        pools = per_layer("model.pool", pool, n)
        for layer_pool in pools:
            check_choice("model.pool", layer_pool, [*POOLS, None])
        pool_stride = pool_stride or pool_size
        check_choice("model.global_pool", global_pool, [False, *GLOBAL_POOLS])

        size = _feature_map_size(tuple(image_size), kernels, stride_list, pads, pools, pool_size, pool_stride)
        widths_in = [in_channels, *channels[:-1]]
        layers = zip(widths_in, channels, kernels, stride_list, pads, pools, strict=True)
        blocks: list[nn.Module] = [
            _conv_block(w_in, w_out, k, s, p, layer_pool, pool_size, pool_stride, batch_norm, activation)
            for w_in, w_out, k, s, p, layer_pool in layers
        ]
        # (B, C, h, w) -> (B, C) with global pooling, else (B, C*h*w)
        blocks += [GLOBAL_POOLS[global_pool](1), nn.Flatten()] if global_pool else [nn.Flatten()]
        num_features = channels[-1] if global_pool else channels[-1] * size[0] * size[1]
        if hidden_size:
            blocks += [nn.Dropout(dropout), nn.Linear(num_features, hidden_size), activation_layer(activation)]
            num_features = hidden_size
        super().__init__(nn.Sequential(*blocks), num_features, num_classes, dropout)
        self.feature_map_size = size
