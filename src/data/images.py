"""Decoding one image file the way every reader of image files here does: training folders and predict alike.

Any size and mode PIL opens (L, LA, RGB, RGBA, P, I;16, CMYK, ...) becomes uint8 grey (1 channel) or RGB (3):
EXIF orientation applied, transparency composited over black (a transparent pixel is no ink), 16-bit values
scaled to 8 bits, then resized to the run's size by torchvision (bilinear, antialiased). A JPEG is decoded at
the smallest scale still at least that size (PIL's draft), several times faster for large photos.
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torch import Tensor
from torchvision.transforms.v2 import functional as F

# What image files are called (case-insensitive); other files in an image folder are left out and counted.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
WIDE_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N", "F"})  # 16-bit (or int/float) grey levels
GREY_MODES = WIDE_MODES | {"1", "L", "LA", "La"}
READ_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)  # what PIL raises on a bad file


class BadImageError(ValueError):
    """A file PIL cannot decode (not an image, truncated, corrupt); the message names it."""


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def decode_image(path: Path, channels: int, size: Sequence[int]) -> tuple[Tensor, str, tuple[int, int]]:
    """An image file -> (uint8 (channels, *size), the file's own mode, its (height, width) once oriented).

    BadImageError naming the file if PIL cannot decode it.
    """
    pixels, mode = load_image(path, channels, size)
    original = (pixels.shape[1], pixels.shape[2])
    if original != tuple(size):
        pixels = F.resize(pixels, list(size), antialias=True)
    return pixels, mode, original


def load_image(path: Path, channels: int, at_least: Sequence[int]) -> tuple[Tensor, str]:
    """An image file -> (uint8 (channels, h, w) oriented, at its own size or (JPEG) a reduced one still at least
    `at_least` on its shorter side, the file's own mode)."""
    try:
        with Image.open(path) as image:
            mode = image.mode
            image.draft("L" if channels == 1 else "RGB", (max(at_least), max(at_least)))  # JPEG: a reduced scale
            return F.pil_to_tensor(_converted(ImageOps.exif_transpose(image), channels)), mode
    except READ_ERRORS as error:
        raise BadImageError(f"cannot read {path} as an image ({error})") from None


def _converted(image: Image.Image, channels: int) -> Image.Image:
    """`image` in mode L (channels 1) or RGB (3), whatever its own mode."""
    if image.mode in WIDE_MODES:  # PIL's own conversion would clip 16-bit values at 255: scale them instead
        levels = np.asarray(image, dtype=np.float64) / 257
        image = Image.fromarray(np.clip(levels.round(), 0, 255).astype(np.uint8), "L")
    elif image.mode in ("LA", "La", "RGBA", "RGBa", "PA") or "transparency" in image.info:
        rgba = np.asarray(image.convert("RGBA"), dtype=np.uint16)
        premultiplied = (rgba[..., :3] * rgba[..., 3:] + 127) // 255  # over black
        image = Image.fromarray(premultiplied.astype(np.uint8), "RGB")
    return image.convert("L" if channels == 1 else "RGB")


def peek(path: Path) -> tuple[str, tuple[int, int]] | None:
    """A file's mode and (height, width) once oriented, from its header alone; None if PIL cannot open it."""
    try:
        with Image.open(path) as image:
            width, height = image.size
            if image.getexif().get(ImageOps.ExifTags.Base.Orientation, 1) in (5, 6, 7, 8):  # turned a quarter
                width, height = height, width
            return image.mode, (height, width)
    except READ_ERRORS:
        return None


def blank(channels: int, size: Sequence[int]) -> Tensor:
    return torch.zeros(channels, *size, dtype=torch.uint8)
