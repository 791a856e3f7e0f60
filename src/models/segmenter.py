"""Encoder -> decoder -> head segmentation nets, after segmentation_models_pytorch's base model.

`features = encoder(x)`; `decoder_output = decoder(features)`; `masks = head(decoder_output)`, upsampled to
the input's size. Any encoder works that has `channels` and `reductions` (one entry per returned level) and
returns a list of feature maps, finest first: see src/models/encoders.py.
"""

import torch.nn as nn
from torch import Tensor

from src.models.layers import pad_to_multiple


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
