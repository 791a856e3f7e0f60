"""U-Net (Ronneberger et al., 2015) for semantic segmentation: any input size in, logits of the same size out."""

import itertools

import torch.nn as nn
from torch import Tensor

from src.models.cnn import POOLS
from src.models.layers import (
    NORMS,
    UpBlock,
    check_choice,
    check_dropout,
    check_positive,
    conv_norm_act,
    double_conv,
)
from src.models.segmenter import Segmenter

DOWNS = (*POOLS, "conv")
UPS = ("bilinear", "transposed")


class UNet(Segmenter):
    """Encoder of `depth` down-sampling stages, decoder with skip concatenation, 1x1 head -> raw logits.

    Shapes for x (B, in_channels, H, W), with H', W' = H, W rounded up to multiples of 2**depth:
      encoder[0]: two conv-norm-act           -> (B, base_channels, H', W')
      encoder[i]: down, two conv-norm-act     -> (B, base_channels * 2**i, H' / 2**i, W' / 2**i), i = 1..depth
                  (encoder[depth] is the bottleneck; Dropout2d(dropout) follows it, the only dropout)
      decoder[j]: up, concat skip, two convs  -> (B, base_channels * 2**(depth-1-j), ...), j = 0..depth-1
      head:       1x1 conv                    -> (B, num_classes, H', W'), cropped to (B, num_classes, H, W)

    down: "max" | "avg" (2x2 pooling) | "conv" (3x3 conv-norm-act, stride 2, width kept). up: "bilinear"
    (1x1 conv halving the width, then bilinear resizing) | "transposed" (ConvTranspose2d 2x2, stride 2).
    norm: "batch" | "group" (8 groups) | "instance" | None, after every 3x3 conv. Instance norm needs more
    than one pixel at the bottleneck, so inputs up to 2**depth on both sides fail with it.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        base_channels: int = 16,
        depth: int = 3,
        kernel_size: int = 3,
        down: str = "max",
        up: str = "bilinear",
        norm: str | None = "batch",
        dropout: float = 0.0,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        sizes = {"in_channels": in_channels, "num_classes": num_classes, "base_channels": base_channels}
        for key, value in {**sizes, "depth": depth, "kernel_size": kernel_size}.items():
            check_positive(f"model.{key}", value)
        if kernel_size % 2 == 0:
            raise ValueError(f"model.kernel_size must be odd to keep the feature map's size, got {kernel_size}")
        check_choice("model.down", down, DOWNS)
        check_choice("model.up", up, UPS)
        check_choice("model.norm", norm, [*NORMS, None])
        check_dropout(dropout)

        self.depth = depth
        self.pad_multiple = 2**depth
        widths = [base_channels * 2**level for level in range(depth + 1)]
        layer = {"norm": norm, "activation": activation}
        stages = [nn.Sequential(*double_conv(in_channels, widths[0], kernel_size, **layer))]
        for width_in, width in itertools.pairwise(widths):
            down_layers = _down(down, width_in, **layer)
            stages.append(nn.Sequential(*down_layers, *double_conv(width_in, width, kernel_size, **layer)))
        self.encoder = nn.ModuleList(stages)
        self.dropout = nn.Dropout2d(dropout) if dropout else nn.Identity()
        # Each decoder stage halves the width; its skip has that halved width too, as in the paper.
        self.decoder = nn.ModuleList(
            UpBlock(width_in, width, width, width, up, kernel_size, **layer)
            for width_in, width in zip(widths[:0:-1], widths[-2::-1], strict=True)
        )
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    def forward_padded(self, x: Tensor) -> Tensor:
        """x: (B, in_channels, H', W'), H' and W' multiples of 2**depth -> logits (B, num_classes, H', W')."""
        skips = []
        for stage in self.encoder:
            x = stage(x)
            skips.append(x)
        x = self.dropout(skips.pop())  # the bottleneck, (B, widths[depth], H' / 2**depth, W' / 2**depth)
        for stage in self.decoder:
            x = stage(x, skips.pop())
        return self.head(x)


def _down(down: str, width: int, norm: str | None, activation: str) -> list[nn.Module]:
    """Halves the map: (B, width, h, w) -> (B, width, h / 2, w / 2)."""
    if down == "conv":
        return conv_norm_act(width, width, 3, stride=2, norm=norm, activation=activation)
    return [POOLS[down](2)]
