"""Encoder -> decoder -> head segmentation nets, after segmentation_models_pytorch's base model.

`features = encoder(x)`; `decoder_output = decoder(features)`; `masks = head(decoder_output)`, upsampled to
the input's size. Any encoder works that has `channels` and `reductions` (one entry per returned level) and
returns a list of feature maps, finest first: see src/models/encoders.py.
"""

from collections.abc import Sequence

import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from src.models.layers import UpBlock, check_choice, check_dropout, check_positive, conv_norm_act, pad_to_multiple

DECODERS = ("fpn", "unet")


class Segmenter(nn.Module):
    """What every segmentation net shares: `encoder` (also as `backbone`), a 1x1 conv `head` making the logits,
    and a forward that pads the input to multiples of `pad_multiple`, runs `forward_padded` and crops back.
    """

    encoder: nn.Module
    head: nn.Conv2d
    pad_multiple: int

    @property
    def backbone(self) -> nn.Module:
        """The encoder, what Lightning's BackboneFinetuning freezes and unfreezes."""
        return self.encoder

    @property
    def num_classes(self) -> int:
        return self.head.out_channels

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, C, H, W) float -> logits (B, num_classes, H, W), for any H, W >= 1."""
        height, width = x.shape[-2:]
        # Every down-sampling step must halve an even size and every upsampling must land on its skip's size
        # exactly; padding to a multiple of the largest stride does both, where a pool would drop odd rows.
        logits = self.forward_padded(pad_to_multiple(x, self.pad_multiple))
        return logits[..., :height, :width]  # a view: the padded rows and columns are dropped

    def forward_padded(self, x: Tensor) -> Tensor:
        """x: (B, C, H', W'), H' and W' multiples of pad_multiple -> logits (B, num_classes, H', W')."""
        raise NotImplementedError


class FPNDecoder(nn.Module):
    """Feature pyramid (Lin et al., 2017) merged down to the finest level.

    features [(B, channels[i], H / reductions[i], W / reductions[i])], finest first -> (B, width, H / r0, W / r0),
    r0 = reductions[0]. A 1x1 lateral conv brings every level to `width`; from the coarsest level down, the map
    is upsampled (nearest, as in the paper) to the next level's size, added to its lateral and smoothed by a 3x3
    conv-norm-act, which also evens out the blockiness of nearest upsampling.
    """

    def __init__(self, channels: Sequence[int], width: int) -> None:
        super().__init__()
        self.lateral = nn.ModuleList(nn.Conv2d(c, width, 1, bias=False) for c in channels)  # a norm follows
        self.smooth = nn.ModuleList(nn.Sequential(*conv_norm_act(width, width, 3)) for _ in channels)
        self.out_channels = width

    def forward(self, features: list[Tensor]) -> Tensor:
        """features: finest first, [(B, channels[i], h_i, w_i)] -> (B, width, h_0, w_0)."""
        x = self.smooth[-1](self.lateral[-1](features[-1]))
        for i in range(len(features) - 2, -1, -1):
            top_down = F.interpolate(x, size=features[i].shape[-2:], mode="nearest")
            x = self.smooth[i](self.lateral[i](features[i]) + top_down)
        return x


class UNetDecoder(nn.Module):
    """U-Net decoder: from the coarsest level, upsample, concatenate the next finer level, two conv-norm-act.

    features [(B, channels[i], h_i, w_i)], finest first -> (B, width, h_0, w_0); with a single level it returns
    that level unchanged (out_channels = channels[0]).
    """

    def __init__(self, channels: Sequence[int], width: int) -> None:
        super().__init__()
        skips = list(channels[-2::-1])
        widths_in = [channels[-1], *[width] * len(skips)][: len(skips)]  # the coarsest level, then the blocks'
        self.blocks = nn.ModuleList(
            UpBlock(width_in, skip, width, width) for width_in, skip in zip(widths_in, skips, strict=True)
        )
        self.out_channels = width if self.blocks else channels[0]

    def forward(self, features: list[Tensor]) -> Tensor:
        """features: finest first, [(B, channels[i], h_i, w_i)] -> (B, out_channels, h_0, w_0)."""
        x = features[-1]
        for block, skip in zip(self.blocks, features[-2::-1], strict=True):
            x = block(x, skip)
        return x


class EncoderDecoder(Segmenter):
    """encoder -> decoder ("fpn" | "unet") -> Dropout2d -> 1x1 head -> bilinear upsampling to the input size.

    x (B, C, H, W) is zero-padded to multiples of the encoder's largest reduction R (so every level's size is
    exact and the decoder's upsampling lands on its skip), giving features (B, channels[i], H' / r_i, W' / r_i);
    the decoder returns (B, decoder_channels, H' / r0, W' / r0); the head makes logits of it, which are upsampled
    by r0 and cropped to (B, num_classes, H, W). `dropout` drops whole decoder channels before the head.
    """

    def __init__(
        self,
        encoder: nn.Module,
        num_classes: int,
        decoder: str = "fpn",
        decoder_channels: int = 64,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        _check_encoder(encoder)
        check_positive("model.num_classes", num_classes)
        check_choice("model.decoder", decoder, DECODERS)
        check_positive("model.decoder_channels", decoder_channels)
        check_dropout(dropout)
        self.encoder = encoder
        decoder_class = FPNDecoder if decoder == "fpn" else UNetDecoder
        self.decoder = decoder_class(encoder.channels, decoder_channels)
        self.dropout = nn.Dropout2d(dropout) if dropout else nn.Identity()
        self.head = nn.Conv2d(self.decoder.out_channels, num_classes, 1)
        self.pad_multiple = max(encoder.reductions)
        self.output_reduction = encoder.reductions[0]

    def forward_padded(self, x: Tensor) -> Tensor:
        """x: (B, C, H', W'), H' and W' multiples of pad_multiple -> logits (B, num_classes, H', W')."""
        features = self.encoder(x)  # [(B, channels[i], H' / r_i, W' / r_i)], finest first
        masks = self.head(self.dropout(self.decoder(features)))  # (B, num_classes, H' / r0, W' / r0)
        if self.output_reduction > 1:
            # Upsampling the logits, not the decoder's wider output, costs num_classes / decoder_channels as much.
            masks = F.interpolate(masks, scale_factor=self.output_reduction, mode="bilinear", align_corners=False)
        return masks


def _check_encoder(encoder: nn.Module) -> None:
    """Fail, naming what is missing, unless `encoder` states one channel count and one reduction per level."""
    channels, reductions = getattr(encoder, "channels", None), getattr(encoder, "reductions", None)
    if not channels or not reductions or len(channels) != len(reductions):
        raise TypeError(
            f"model.encoder must state lists `channels` and `reductions` with one entry per level it returns; "
            f"got {type(encoder).__name__} with channels={channels!r}, reductions={reductions!r}; "
            "use src.models.CNNEncoder or src.models.TimmEncoder"
        )
    if list(reductions) != sorted(reductions):
        raise ValueError(f"model.encoder must return its levels finest first; got reductions {list(reductions)}")
