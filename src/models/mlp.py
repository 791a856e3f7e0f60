"""A fully connected classifier (or regressor): images flattened, or a table's feature vectors as they are."""

import math
from collections.abc import Sequence

import torch.nn as nn

from src.models.classifier import Classifier, activation_layer
from src.models.layers import check_dropout


class MLP(Classifier):
    """Flatten -> [Linear -> BatchNorm -> activation -> Dropout] per hidden size -> Linear.

    Input (B, in_channels, *image_size) float images, or (B, num_features) float feature vectors (tables: then
    in_channels and image_size are None); output logits (B, num_classes), or num_classes values for regression.
    """

    def __init__(
        self,
        in_channels: int | None,
        image_size: Sequence[int] | None,
        num_classes: int,
        hidden_sizes: Sequence[int] = (512, 256),
        activation: str = "relu",
        dropout: float = 0.0,
        batch_norm: bool = True,
        num_features: int | None = None,
    ) -> None:
        check_dropout(dropout)
        if any(size <= 0 for size in hidden_sizes):
            raise ValueError(f"model.hidden_sizes must be positive, got {list(hidden_sizes)}")
        if num_features is None and (in_channels is None or image_size is None):
            raise ValueError(
                "model=mlp needs data.num_features (a table) or data.in_channels and data.image_size (images), "
                f"got num_features={num_features}, in_channels={in_channels}, image_size={image_size}"
            )
        width_in = num_features if num_features is not None else in_channels * math.prod(image_size)
        # (B, C, H, W) -> (B, C*H*W); (B, F) stays as it is
        layers = [nn.Flatten(), *dense_blocks(width_in, hidden_sizes, activation, dropout, batch_norm)]
        # The last hidden block's dropout already regularises the head's input.
        width_out = hidden_sizes[-1] if hidden_sizes else width_in
        super().__init__(nn.Sequential(*layers), num_features=width_out, num_classes=num_classes)


def dense_blocks(
    width_in: int,
    hidden_sizes: Sequence[int],
    activation: str,
    dropout: float = 0.0,
    batch_norm: bool = False,
    gated: bool = False,
) -> list[nn.Module]:
    """[Linear -> BatchNorm -> activation -> Dropout] per hidden size: (B, width_in) -> (B, hidden_sizes[-1]).

    gated: each block's Linear gives 2 x size values and a GLU takes the first half times the sigmoid of the
    second (the gated dense layer of Dauphin et al. 2017, the VampPrior's and Exemplar VAE's MLPs) in place of
    the activation; twice the block's weights and multiply-adds.
    """
    layers: list[nn.Module] = []
    for size in hidden_sizes:
        width_out = 2 * size if gated else size
        layers.append(nn.Linear(width_in, width_out, bias=not batch_norm))
        layers += [nn.BatchNorm1d(width_out)] if batch_norm else []
        layers += [nn.GLU(dim=1) if gated else activation_layer(activation), nn.Dropout(dropout)]
        width_in = size
    return layers
