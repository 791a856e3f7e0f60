"""Batched, per-sample random augmentation on the batch's device.

torchvision.transforms.v2 draws one set of random parameters per call, so on a (B, C, H, W) batch it would
flip or crop every image alike; these draw an independent flip and crop offset for every image instead.
"""

import torch
import torch.nn.functional as F
from torch import Tensor


def random_flip(images: Tensor) -> Tensor:
    """Mirror each image left-right with probability 1/2. images: (B, C, H, W) -> same shape."""
    flip = torch.rand(images.shape[0], device=images.device) < 0.5
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


def random_crop(images: Tensor, padding: int) -> Tensor:
    """Zero-pad each side by `padding`, then cut an (H, W) window at a random offset per image.

    images: (B, C, H, W) -> (B, C, H, W).
    """
    batch, _, height, width = images.shape
    padded = F.pad(images, (padding, padding, padding, padding))
    top = torch.randint(0, 2 * padding + 1, (batch, 1), device=images.device)
    left = torch.randint(0, 2 * padding + 1, (batch, 1), device=images.device)
    rows = top + torch.arange(height, device=images.device)  # (B, H)
    cols = left + torch.arange(width, device=images.device)  # (B, W)
    # Gather rows, then columns, each with its own offset per image.
    padded = padded.gather(2, rows[:, None, :, None].expand(-1, padded.shape[1], -1, padded.shape[3]))
    return padded.gather(3, cols[:, None, None, :].expand(-1, padded.shape[1], height, -1))
