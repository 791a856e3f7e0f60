"""The surface every classifier shares (after timm): a backbone that yields features and a linear head."""

import torch.nn as nn
from torch import Tensor

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "tanh": nn.Tanh,
}


# The activations whose modules can overwrite their input (the others have no `inplace` argument).
INPLACE = {"relu", "silu", "leaky_relu", "elu"}


def activation_layer(name: str, inplace: bool = False, key: str = "model.activation") -> nn.Module:
    """The activation module `name`; `inplace` where it has that option. `key` is the config key errors name."""
    if name not in ACTIVATIONS:
        raise ValueError(f"{key} must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name](inplace=True) if inplace and name in INPLACE else ACTIVATIONS[name]()


class Classifier(nn.Module):
    """`backbone` maps images to (B, num_features); `head` maps those to logits (B, num_classes).

    Transfer learning swaps the head (`reset_classifier`) and freezes or fine-tunes the backbone; Lightning's
    BackboneFinetuning finds it by name.
    """

    def __init__(self, backbone: nn.Module, num_features: int, num_classes: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.backbone = backbone
        self.num_features = num_features
        self.dropout = dropout
        self.head = self._make_head(num_classes)

    def _make_head(self, num_classes: int) -> nn.Sequential:
        return nn.Sequential(nn.Dropout(self.dropout), nn.Linear(self.num_features, num_classes))

    @property
    def num_classes(self) -> int:
        return self.head[-1].out_features

    def forward_features(self, x: Tensor) -> Tensor:
        """x: (B, C, H, W) -> features (B, num_features)."""
        return self.backbone(x)

    def forward_head(self, features: Tensor) -> Tensor:
        """features: (B, num_features) -> logits (B, num_classes)."""
        return self.head(features)

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, C, H, W) float -> logits (B, num_classes)."""
        return self.forward_head(self.forward_features(x))

    def reset_classifier(self, num_classes: int) -> None:
        """A new, randomly initialised head for `num_classes` classes."""
        self.head = self._make_head(num_classes)
