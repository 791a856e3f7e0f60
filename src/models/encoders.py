"""Multi-scale encoders for EncoderDecoder: the project's own conv blocks, or any timm net.

Each states `channels` and `reductions` (stride against the input) per returned level, finest first, and maps
x (B, in_channels, H, W) to [(B, channels[i], H / reductions[i], W / reductions[i])] for H, W multiples of the
largest reduction (EncoderDecoder pads to that).
"""

import difflib
import itertools
import operator
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn as nn
from torch import Tensor

from src.models.cnn import POOLS, Pool, _conv_block, per_layer
from src.models.layers import check_choice, check_positive


class CNNEncoder(nn.Module):
    """One ConvNet block per level: Conv(k, "same") -> BatchNorm -> activation -> pool ("max" | "avg" | None).

    Returns every block's output: level i has channels[i] channels at reduction 2**(number of pools so far), so
    the defaults give reductions [2, 4, 8]; pool=[null, max, max] keeps a full-resolution level, [1, 2, 4].
    """

    def __init__(
        self,
        in_channels: int,
        channels: Sequence[int] = (32, 64, 128),
        kernel_sizes: int | Sequence[int] = 3,
        pool: Pool | Sequence[Pool | None] | None = "max",
        batch_norm: bool = True,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        check_positive("model.encoder.in_channels", in_channels)
        if not channels:
            raise ValueError("model.encoder.channels must list at least one level's output channels, got []")
        n = len(channels)
        kernels = per_layer("model.encoder.kernel_sizes", kernel_sizes, n)
        pools = per_layer("model.encoder.pool", pool, n)
        for kernel in kernels:
            if kernel % 2 == 0:
                raise ValueError(f"model.encoder.kernel_sizes must be odd to keep each map's size, got {kernel}")
        for level_pool in pools:
            check_choice("model.encoder.pool", level_pool, [*POOLS, None])
        widths_in = [in_channels, *channels[:-1]]
        self.blocks = nn.ModuleList(
            _conv_block(w_in, w, k, 1, k // 2, p, 2, 2, batch_norm, activation, "model.encoder.activation")
            for w_in, w, k, p in zip(widths_in, channels, kernels, pools, strict=True)
        )
        self.channels = list(channels)
        self.reductions = list(itertools.accumulate((2 if p else 1 for p in pools), operator.mul))

    def forward(self, x: Tensor) -> list[Tensor]:
        """x: (B, in_channels, H, W) -> [(B, channels[i], H / reductions[i], W / reductions[i])] per level."""
        features = []
        for block in self.blocks:
            x = block(x)
            features.append(x)
        return features


class TimmEncoder(nn.Module):
    """Any timm net's multi-scale features: `timm.create_model(name, features_only=True, ...)` as `self.model`.

    weights: "DEFAULT" downloads timm's default pretrained weights (internet needed), null starts random.
    weights_path: a local state dict of the timm model `name` (classifier included or not) loaded instead; keys
    the features model lacks are dropped, and an RGB first conv is adapted to `in_channels` as timm does for
    "DEFAULT" (summed for one channel). out_indices: which levels to return (timm's default: all).
    """

    def __init__(
        self,
        name: str,
        in_channels: int,
        weights: str | None = None,
        weights_path: str | None = None,
        out_indices: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        import timm  # here, not at the top: importing timm takes a second that `import src.models` need not pay

        check_positive("model.encoder.in_channels", in_channels)
        check_choice("model.encoder.weights", weights, ["DEFAULT", None])
        if weights and weights_path:
            raise ValueError(
                f"model.encoder.weights=DEFAULT and model.encoder.weights_path={weights_path!r} both name weights; "
                "set one of them to null"
            )
        if not timm.is_model(name):
            close = difflib.get_close_matches(name, timm.list_models(), n=5)
            raise ValueError(
                f"model.encoder.name {name!r} is not a timm model; close names: {close}; see timm.list_models()"
            )
        options = {"features_only": True, "in_chans": in_channels}
        options |= {"out_indices": tuple(out_indices)} if out_indices is not None else {}
        self.model = _create_model(name, weights == "DEFAULT", options)
        if weights_path is not None:
            load_timm_state_dict(self.model, weights_path, in_channels)
        self.name = name
        self.channels: list[int] = self.model.feature_info.channels()
        self.reductions: list[int] = self.model.feature_info.reduction()

    def forward(self, x: Tensor) -> list[Tensor]:
        """x: (B, in_channels, H, W) -> [(B, channels[i], H / reductions[i], W / reductions[i])] per level."""
        return self.model(x)


def _create_model(name: str, pretrained: bool, options: dict) -> nn.Module:
    """timm.create_model, failing in one line that says what to do when pretrained weights cannot download."""
    import timm

    try:
        return timm.create_model(name, pretrained=pretrained, **options)
    except Exception as error:
        if not pretrained:
            raise
        timm.create_model(name, **options)  # raises here if the options, not the download, are at fault
        raise ValueError(
            f"model.encoder.weights=DEFAULT could not fetch {name}'s weights ({type(error).__name__}: "
            f"{_first_line(error)}); it needs internet, or set model.encoder.weights_path to a local state dict"
        ) from None


def _first_line(error: Exception) -> str:
    return (str(error).splitlines() or [""])[0]


def load_timm_state_dict(model: nn.Module, path: str | Path, in_channels: int) -> None:
    """Load the state dict at `path`, saved from a timm model, into that model's features-only version `model`."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # missing, not a torch file, or holding objects beyond tensors and plain data
        raise ValueError(
            f"model.encoder.weights_path={str(path)!r} is not a readable state dict ({type(error).__name__}: "
            f"{_first_line(error)}); save one with torch.save(model.state_dict(), path)"
        ) from None
    if not isinstance(state, dict) or not all(isinstance(t, Tensor) for t in state.values()):
        raise ValueError(
            f"model.encoder.weights_path={str(path)!r} holds a {type(state).__name__}, not a state dict of tensors; "
            "save one with torch.save(model.state_dict(), path)"
        )
    own = model.state_dict()
    matched = _match_keys(state, own)
    if missing := [key for key in own if key not in matched]:
        raise ValueError(
            f"model.encoder.weights_path={str(path)!r} lacks {missing[0]} ({len(missing)} of the encoder's "
            f"{len(own)} tensors are missing); is it a state dict of the timm model named in model.encoder.name?"
        )
    first_conv = f"{model.pretrained_cfg.get('first_conv')}.weight"
    loaded = {}
    for key, (source_key, tensor) in matched.items():
        if source_key == first_conv and _differs_in_input_channels(tensor, own[key]):
            from timm.models import adapt_input_conv  # timm is imported already: `model` is one of its nets

            tensor = adapt_input_conv(in_channels, tensor)  # as timm adapts its own pretrained weights
        if tensor.shape != own[key].shape:
            raise ValueError(
                f"model.encoder.weights_path={str(path)!r}: {source_key} is shaped {tuple(tensor.shape)} there, "
                f"{tuple(own[key].shape)} in the encoder; save the state dict from the same model and options"
            )
        loaded[key] = tensor
    model.load_state_dict(loaded)


def _match_keys(state: dict[str, Tensor], own: dict[str, Tensor]) -> dict[str, tuple[str, Tensor]]:
    """The features model's key -> (the state dict's key, tensor); keys without a counterpart are dropped."""
    matched = {}
    for key, tensor in state.items():
        # timm's features models flatten nested stages into one name ("stages.0.x" -> "stages_0.x").
        for candidate in (key, key.replace(".", "_", 1)):
            if candidate in own:
                matched[candidate] = (key, tensor)
                break
    return matched


def _differs_in_input_channels(source: Tensor, target: Tensor) -> bool:
    """An RGB conv weight (out, 3, kh, kw) where the encoder's is (out, c, kh, kw) with c != 3."""
    same_otherwise = source.shape[0] == target.shape[0] and source.shape[2:] == target.shape[2:]
    return source.dim() == 4 and source.shape[1] == 3 != target.shape[1] and same_otherwise
