"""Batched, per-image random geometry on the batch's device, for images alone or images with their masks.

torchvision.transforms.v2 draws one set of random parameters per call, so on a (B, C, H, W) batch it would
flip, crop or zoom every image alike; these draw independent parameters for every image instead. Each
function moves an image and its mask (when given) by the same parameters: images are resampled bilinearly,
masks only by nearest neighbour, so a mask keeps integer class values. Mask pixels that come from outside
the image are set to `fill` (the ignore index, or background).
"""

import torch
import torch.nn.functional as F
from torch import Tensor


def random_flip(images: Tensor, masks: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
    """Mirror each image (and its mask) left-right with probability 1/2.

    images: (B, C, H, W); masks: (B, H, W) or None -> the same shapes.
    """
    flip = torch.rand(images.shape[0], device=images.device) < 0.5
    images = torch.where(flip[:, None, None, None], images.flip(-1), images)
    if masks is not None:
        masks = torch.where(flip[:, None, None], masks.flip(-1), masks)
    return images, masks


def random_crop(
    images: Tensor, padding: int, masks: Tensor | None = None, fill: int = 0
) -> tuple[Tensor, Tensor | None]:
    """Pad each side by `padding` (images with 0, masks with `fill`), then cut an (H, W) window at a random
    offset per image.

    images: (B, C, H, W); masks: (B, H, W) or None -> the same shapes.
    """
    batch, _, height, width = images.shape
    top = torch.randint(0, 2 * padding + 1, (batch, 1), device=images.device)
    left = torch.randint(0, 2 * padding + 1, (batch, 1), device=images.device)
    rows = top + torch.arange(height, device=images.device)  # (B, H)
    cols = left + torch.arange(width, device=images.device)  # (B, W)
    images = _window(F.pad(images, (padding,) * 4), rows, cols)
    if masks is not None:
        masks = _window(F.pad(masks[:, None], (padding,) * 4, value=fill), rows, cols)[:, 0]
    return images, masks


def _window(padded: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
    """Gather rows, then columns, each with its own offset per image. padded: (B, C, H', W') -> (B, C, H, W)."""
    channels, height = padded.shape[1], rows.shape[1]
    padded = padded.gather(2, rows[:, None, :, None].expand(-1, channels, -1, padded.shape[3]))
    return padded.gather(3, cols[:, None, None, :].expand(-1, channels, height, -1))


def random_scale(
    images: Tensor, low: float, high: float, masks: Tensor | None = None, fill: int = 0
) -> tuple[Tensor, Tensor | None]:
    """Zoom each image about its centre by a factor drawn uniformly from [low, high] (>1 zooms in).

    Zooming out leaves a border from outside the image: 0 in images, `fill` in masks.
    images: (B, C, H, W) float; masks: (B, H, W) integer or None -> the same shapes and dtypes.
    """
    batch = images.shape[0]
    factor = torch.empty(batch, device=images.device).uniform_(low, high)
    # affine_grid maps output coordinates to input ones: a factor s shows the input's central 1/s.
    theta = torch.zeros(batch, 2, 3, device=images.device)
    theta[:, 0, 0] = theta[:, 1, 1] = 1 / factor
    grid = F.affine_grid(theta, [batch, 1, *images.shape[2:]], align_corners=False)
    images = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if masks is not None:
        # Shift classes up by one so that the zeros grid_sample brings in from outside mark "outside".
        shifted = (masks[:, None].float() + 1).to(images.dtype)
        sampled = F.grid_sample(shifted, grid, mode="nearest", padding_mode="zeros", align_corners=False)
        sampled = sampled[:, 0].round().long() - 1  # (B, 1, H, W) -> (B, H, W)
        masks = torch.where(sampled < 0, fill, sampled).to(masks.dtype)
    return images, masks
