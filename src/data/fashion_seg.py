"""Segmentation canvases built from real Fashion-MNIST items, M2NIST-style, generated once by the data seed.

Each canvas is blank with a few 28x28 Fashion-MNIST items pasted at random positions wholly inside it.
Overlaps are allowed: a later item paints over earlier ones wherever its own pixels are non-zero, in the image
and the mask alike, so items of class k paint exactly class k + 1 where they show and 0 is background.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch
import torchvision
from torch import Tensor

from src.data.base import Split, positive_int
from src.data.files import optional_path
from src.data.mnist import FashionMNISTDataModule
from src.data.segmentation import SegmentationDataModule

ITEM = 28  # Fashion-MNIST items are 28x28


@dataclass
class Canvases:
    """images: uint8 (N, 1, H, W); masks: uint8 (N, H, W); sources: int64 (N, high), the item pasted in each
    slot in paint order (an index into the items), -1 for an empty slot; corners: int64 (N, high, 2), the
    (top, left) canvas pixel of each slot's item."""

    images: Tensor
    masks: Tensor
    sources: Tensor
    corners: Tensor


def compose_canvases(
    items: Tensor,
    labels: Tensor,
    pool: Tensor,
    count: int,
    canvas_size: Sequence[int],
    items_per_canvas: Sequence[int],
    generator: torch.Generator,
    binary: bool = False,
) -> Canvases:
    """`count` canvases of `canvas_size` (H, W), each with a random number in `items_per_canvas` [low, high]
    of items from `pool`, at random positions wholly inside it. Mask: item class + 1 (1 if `binary`) where an
    item shows, else 0.

    items: uint8 (M, 1, 28, 28); labels: int64 (M,); pool: int64 (P,), the indices of `items` to draw from.
    Vectorised over canvases: one scatter per item slot paints that slot on every canvas at once.
    """
    low, high = items_per_canvas
    height, width = canvas_size
    # Draws go through the shuffled pool pass after pass, so items are used about equally often.
    passes = -(-count * high // len(pool))
    order = torch.cat([torch.randperm(len(pool), generator=generator) for _ in range(passes)])[: count * high]
    sources = pool[order].view(count, high)
    used = torch.randint(low, high + 1, (count, 1), generator=generator)
    sources = torch.where(torch.arange(high) < used, sources, -1)
    top = torch.randint(0, height - ITEM + 1, (count, high), generator=generator)
    left = torch.randint(0, width - ITEM + 1, (count, high), generator=generator)
    # An item's 784 pixels as offsets into a flattened canvas, relative to its top-left corner.
    offsets = (torch.arange(ITEM)[:, None] * width + torch.arange(ITEM)).flatten()
    images = torch.zeros(count, height * width, dtype=torch.uint8)
    masks = torch.zeros_like(images)
    for slot in range(high):  # paint order; each pass covers every canvas
        source = sources[:, slot]
        pixels = items[source.clamp_min(0)].flatten(1) * (source >= 0)[:, None]  # (N, 784); blank if empty slot
        where = (top[:, slot] * width + left[:, slot])[:, None] + offsets  # (N, 784)
        shows = pixels > 0
        value = torch.ones_like(source) if binary else labels[source.clamp_min(0)] + 1
        images.scatter_(1, where, torch.where(shows, pixels, images.gather(1, where)))
        masks.scatter_(1, where, torch.where(shows, value[:, None].to(torch.uint8), masks.gather(1, where)))
    corners = torch.stack([top, left], dim=-1)
    return Canvases(images.view(count, 1, height, width), masks.view(count, height, width), sources, corners)


class FashionSegDataModule(SegmentationDataModule):
    """Fashion-MNIST canvases. Images (B, 1, H, W) with H, W = `canvas_size`; masks (B, H, W): 0 background,
    k + 1 for Fashion-MNIST class k (11 classes), or 1 for any item when `binary` (2 classes).

    The official training items are split by the data seed into training and validation items in proportion
    to `train_size` : `val_size` canvases; test canvases use only the official test items, so no item appears
    in two splits. `sources[split]` holds each canvas's item indices (into the official train or test file).
    mean/std are those of the training canvases. The items are looked up as `FashionMNISTDataModule` does:
    in `data_dir` alone when it is given, else in `default_dir` and the system's copy.
    """

    def __init__(
        self,
        *,
        data_dir: str | None = None,
        default_dir: str | None = None,
        download: bool = False,
        canvas_size: Sequence[int] = (64, 64),
        items_per_canvas: Sequence[int] = (1, 3),
        train_size: int = 6400,
        test_size: int = 4000,
        binary: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.data_dir, self.default_dir = optional_path(data_dir), optional_path(default_dir)
        self.download = download
        self.canvas_size = tuple(canvas_size)
        if len(self.canvas_size) != 2 or min(self.canvas_size) < ITEM:
            raise ValueError(f"data.canvas_size must be [height, width], each at least {ITEM}, got {list(canvas_size)}")
        if self.canvas_size != self.image_size:
            raise ValueError(
                f"data.image_size={list(self.image_size)} but data.canvas_size={list(self.canvas_size)}: the canvases "
                "are the images; set data.image_size=${data.canvas_size}"
            )
        low, high = items_per_canvas
        if not 1 <= low <= high:
            raise ValueError(
                f"data.items_per_canvas must be [low, high], 1 <= low <= high, got {list(items_per_canvas)}"
            )
        self.items_per_canvas = (low, high)
        self.sizes = {"train": positive_int("train_size", train_size), "val": self.val_size}
        self.sizes["test"] = positive_int("test_size", test_size)
        self.binary = binary
        self.class_names = ["background", *(["item"] if binary else torchvision.datasets.FashionMNIST.classes)]
        self.sources: dict[str, Tensor] = {}

    def prepare_data(self) -> None:
        if self.download:
            FashionMNISTDataModule.fetch(self.data_dir, self.default_dir)

    def _generator(self, stream: int) -> torch.Generator:
        """One random stream per purpose, so changing one split's size leaves the others' canvases alone."""
        return torch.Generator().manual_seed(self.seed * 4 + stream)

    def load(self) -> dict[str, Split]:
        official = FashionMNISTDataModule.read_files(self.data_dir, self.default_dir)
        train_items = official["train"][0]
        share = self.sizes["val"] / (self.sizes["train"] + self.sizes["val"])
        val_count = min(max(round(len(train_items) * share), 1), len(train_items) - 1)
        order = torch.randperm(len(train_items), generator=self._generator(0))
        pools = {"train": order[val_count:], "val": order[:val_count], "test": torch.arange(len(official["test"][0]))}
        splits = {}
        for stream, (split, pool) in enumerate(pools.items(), start=1):
            items, labels = official["test" if split == "test" else "train"]
            canvases = compose_canvases(
                items, labels, pool, self.sizes[split], self.canvas_size, self.items_per_canvas,
                self._generator(stream), self.binary,
            )  # fmt: skip
            splits[split] = (canvases.images, canvases.masks)
            self.sources[split] = canvases.sources
        return splits


class FashionMultiLabelDataModule(FashionSegDataModule):
    """The same canvases, their target the set of Fashion-MNIST classes that show: multi-hot uint8 (N, 10),
    served as int64 (B, 10). An item wholly painted over by later ones does not show and is not a label.

    Same generator, seed and item split as `FashionSegDataModule` (no item in two splits). Augmentation moves
    only pixels (zoom, crop, flip): the labels stay as they are, so keep a crop small enough not to cut items out.
    """

    task: ClassVar[str] = "multilabel"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.class_names = list(torchvision.datasets.FashionMNIST.classes)

    def load(self) -> dict[str, Split]:
        return {split: (images, present_classes(masks, 11)) for split, (images, masks) in super().load().items()}

    def check_targets(self, images: Tensor, labels: Tensor) -> None:
        if labels.dtype != torch.uint8 or labels.shape != (len(images), self.num_classes):
            raise ValueError(f"labels must be uint8 (N, {self.num_classes}), got {labels.dtype} {tuple(labels.shape)}")

    def augment(self, images: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        """Random zoom, crop and flip per canvas. images: (B, 1, H, W) in [0, 1]; labels (B, 10) unchanged."""
        images, _ = self.random_geometry(images)
        return images, labels


def present_classes(masks: Tensor, num_values: int) -> Tensor:
    """masks uint8 (N, H, W) of 0 (background) and class + 1 -> uint8 (N, num_values - 1): 1 where a class shows."""
    counts = torch.zeros(len(masks), num_values, dtype=torch.int64)
    counts.scatter_add_(1, masks.flatten(1).long(), torch.ones_like(masks.flatten(1), dtype=torch.int64))
    return (counts[:, 1:] > 0).to(torch.uint8)


class FashionBoxesDataModule(FashionSegDataModule):
    """Canvases of one item each, the target its bounding box: float32 (N, 4), (x0, y0, x1, y1) as fractions of
    the canvas width and height, the tightest box around the item's pixels that show (x1, y1 exclusive).

    Same generator, seed and item split as `FashionSegDataModule`, with `items_per_canvas` [1, 1]. Augmentation
    is refused: a zoom, crop or flip would move the item without its box.
    """

    task: ClassVar[str] = "boxes"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        if self.items_per_canvas != (1, 1):
            raise ValueError(f"data.items_per_canvas must be [1, 1] for boxes, got {list(self.items_per_canvas)}")
        if self.random_crop_padding or self.random_flip or self.random_scale:
            raise ValueError(
                "data=fashion_boxes moves no box with its canvas: set data.random_crop_padding=0, "
                "data.random_flip=false and data.random_scale=null"
            )
        self.class_names = ["item"]
        self.target_names = ["x0", "y0", "x1", "y1"]

    def load(self) -> dict[str, Split]:
        return {split: (images, item_boxes(masks)) for split, (images, masks) in super().load().items()}

    def setup(self, stage: str | None = None) -> None:
        """Also the training boxes' mean and std, which the regression learns in (`RegressionTask`)."""
        super().setup(stage)
        boxes = self.splits["train"].tensors[1].double()
        self.target_mean, self.target_std = boxes.mean(0), boxes.std(0, correction=0)

    def check_targets(self, images: Tensor, boxes: Tensor) -> None:
        if boxes.dtype != torch.float32 or boxes.shape != (len(images), 4):
            raise ValueError(f"boxes must be float32 (N, 4), got {boxes.dtype} {tuple(boxes.shape)}")

    def augment(self, images: Tensor, boxes: Tensor) -> tuple[Tensor, Tensor]:
        return images, boxes  # refused in __init__: nothing moves


def item_boxes(masks: Tensor) -> Tensor:
    """masks (N, H, W), non-zero where the item shows -> boxes float32 (N, 4): (x0, y0, x1, y1) / (W, H, W, H)."""
    height, width = masks.shape[1:]
    shows = masks.ne(0)
    (x0, x1), (y0, y1) = _edges(shows.any(1)), _edges(shows.any(2))  # columns (N, W), rows (N, H) with pixels
    boxes = torch.stack([x0, y0, x1, y1], 1).float()
    return boxes / torch.tensor([width, height, width, height], dtype=torch.float32)


def _edges(hits: Tensor) -> tuple[Tensor, Tensor]:
    """hits (N, L) bool -> the first True index and one past the last, each (N,)."""
    return hits.float().argmax(1), hits.shape[1] - hits.flip(1).float().argmax(1)
