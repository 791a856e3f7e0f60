"""Segmentation data: a class per pixel, and reading image/mask file pairs once into uint8 tensors."""

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import torch
from PIL import Image
from torch import Tensor
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from src.data.base import InMemoryDataModule, positive_int

Color = tuple[int, int, int]


def _check_colors(colors: Sequence[Sequence[int]] | None, num_classes: int) -> list[Color] | None:
    if colors is None:
        return None
    colors = [tuple(color) for color in colors]
    if len(colors) != num_classes or not all(len(c) == 3 and all(0 <= v <= 255 for v in c) for c in colors):
        raise ValueError(
            f"data.class_colors must be null or {num_classes} [r, g, b] triples of 0..255 (one per class), got {colors}"
        )
    return colors


class SegmentationDataModule(InMemoryDataModule):
    """Images (B, C, H, W); masks stored uint8 (N, H, W), served as int64 (B, H, W) after transfer.

    A mask pixel holds its class index, or `ignore_index` where the class is unknown (a boundary, a border);
    it must be null or in num_classes..255, as masks are stored as uint8. `class_colors` (one (r, g, b) per
    class) colours the pictures; None lets them use a fixed palette. Augmentation moves each image and its
    mask jointly; mask pixels from outside the image become `ignore_index`, or background (0) without one.
    """

    task: ClassVar[str] = "segmentation"
    class_colors: list[Color] | None = None

    def __init__(
        self, *, ignore_index: int | None = None, class_colors: Sequence[Sequence[int]] | None = None, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        if ignore_index is not None and positive_int("ignore_index", ignore_index, self.num_classes) > 255:
            raise ValueError(
                f"data.ignore_index must be null or in {self.num_classes}..255 (masks are uint8), got {ignore_index}"
            )
        self.ignore_index = ignore_index
        if class_colors is not None:
            self.class_colors = _check_colors(class_colors, self.num_classes)

    @property
    def fill(self) -> int:
        """The mask value of pixels that augmentation brings in from outside the image."""
        return 0 if self.ignore_index is None else self.ignore_index

    def check_targets(self, images: Tensor, masks: Tensor) -> None:
        if masks.dtype != torch.uint8 or masks.shape != (len(images), *images.shape[2:]):
            raise ValueError(
                f"masks must be uint8 (N, H, W) for images {tuple(images.shape)}, got {masks.dtype} {masks.shape}"
            )
        wrong = masks >= self.num_classes
        if self.ignore_index is not None:
            wrong &= masks != self.ignore_index
        if wrong.any():
            raise ValueError(
                f"masks hold the value {int(masks[wrong][0])}, which is neither a class (0..{self.num_classes - 1}) "
                f"nor data.ignore_index={self.ignore_index}"
            )

    def augment(self, images: Tensor, masks: Tensor) -> tuple[Tensor, Tensor]:
        """Random zoom, crop and flip per image, the mask moved with its image.

        images: (B, C, H, W) in [0, 1]; masks: (B, H, W) integer -> the same shapes.
        """
        return self.random_geometry(images, masks, fill=self.fill)


def value_map(pairs: dict[int, int]) -> Tensor:
    """A lookup table for mask values: (256,) int16, the class of each listed raw value, -1 for the rest."""
    table = torch.full((256,), -1, dtype=torch.int16)
    table[list(pairs)] = torch.tensor(list(pairs.values()), dtype=torch.int16)
    return table


def class_values(num_classes: int, ignore_index: int | None) -> Tensor:
    """value_map of masks that already hold class indices: 0..num_classes-1 and ignore_index stay as they are."""
    kept = [*range(num_classes), *([] if ignore_index is None else [ignore_index])]
    return value_map({value: value for value in kept})


def read_pairs(
    pairs: Sequence[tuple[Path, Path]], in_channels: int, size: Sequence[int], values: Tensor, allowed: str
) -> tuple[Tensor, Tensor]:
    """Decode image/mask files once: images in L (1 channel) or RGB (3), resized to `size` (images bilinear with
    antialias, masks nearest); mask values translated by `values` (see `value_map`).

    -> images uint8 (N, in_channels, H, W), masks uint8 (N, H, W). A file with a value `values` does not list
    is named, with `allowed` saying which are.
    """
    mode = {1: "L", 3: "RGB"}.get(in_channels)
    if mode is None:
        raise ValueError(f"data.in_channels must be 1 (grey) or 3 (RGB) for image files, got {in_channels}")
    resize = v2.Resize(list(size), antialias=True)  # a tv_tensors.Mask is always resized by nearest neighbour
    images = torch.empty(len(pairs), in_channels, *size, dtype=torch.uint8)
    masks = torch.empty(len(pairs), *size, dtype=torch.uint8)
    for index, (image_path, mask_path) in enumerate(pairs):
        image, mask = _read_pair(image_path, mask_path, mode, size)
        mapped = values[mask.long()]
        if (mapped < 0).any():
            raise ValueError(f"{mask_path} has the pixel value {int(mask[mapped < 0][0])}; allowed: {allowed}")
        images[index], mask = resize(tv_tensors.Image(image), tv_tensors.Mask(mapped.to(torch.uint8)))
        masks[index] = mask[0]
    return images, masks


def _read_pair(image_path: Path, mask_path: Path, mode: str, size: Sequence[int]) -> tuple[Tensor, Tensor]:
    """-> image uint8 (C, h, w) in `mode`, mask uint8 (1, h, w) as stored: their own size, not yet resized."""
    try:
        with Image.open(image_path) as image, Image.open(mask_path) as mask:
            if image.size != mask.size:
                raise ValueError(
                    f"{image_path} is {image.size[0]}x{image.size[1]} but its mask {mask_path} is "
                    f"{mask.size[0]}x{mask.size[1]} (width x height); an image and its mask must be the same size"
                )
            if mask.mode not in ("L", "P"):
                raise ValueError(
                    f"{mask_path} is a mode {mask.mode} image; masks must be PNGs of mode L or P whose pixel "
                    "values are class indices"
                )
            image.draft(mode, (size[1], size[0]))  # JPEG: decode at the smallest scale still at least `size`
            return F.pil_to_tensor(image.convert(mode)), F.pil_to_tensor(mask)
    except OSError as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise ValueError(f"cannot read {image_path} or {mask_path} as an image ({error}); replace it") from None
