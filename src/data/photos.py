"""Segmentation of photos through torchvision's readers: PASCAL VOC 2012 and the Oxford-IIIT Pet trimaps.

torchvision's dataset classes find the files, read the official split lists and download; the images are
decoded once into uint8 tensors here, resized (not cropped) to `image_size`.
"""

from pathlib import Path
from typing import ClassVar

import torchvision
from torch import Tensor
from torch.utils.data import Dataset

from src.data.base import Split
from src.data.files import not_found
from src.data.segmentation import Color, SegmentationDataModule, read_pairs, value_map

# Photos are normalised like ImageNet, the statistics that pretrained backbones expect.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class PhotoSegmentationDataModule(SegmentationDataModule):
    """A torchvision segmentation dataset under `data_dir`. Images (B, 3, H, W); masks (B, H, W).

    Subclasses name the `reader` and its `folder` under `data_dir`, which official split becomes our "train"
    (validation is split off it by the data seed) and "test", and how raw mask values become classes.
    Pixels the dataset marks as unknown become `ignore_index`, or background (0) when it is null.
    """

    title: ClassVar[str]
    folder: ClassVar[str]
    official: ClassVar[dict[str, str]]  # our split -> the reader's
    download_size: ClassVar[str]
    mean = IMAGENET_MEAN
    std = IMAGENET_STD

    def __init__(self, *, data_dir: str, download: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.data_dir = Path(data_dir).expanduser()
        self.download = download

    def reader(self, split: str, download: bool) -> Dataset:
        raise NotImplementedError

    def files(self, dataset: Dataset) -> list[tuple[Path, Path]]:
        """(image, mask) paths of the reader's split."""
        raise NotImplementedError

    def mask_values(self) -> tuple[Tensor, str]:
        """The `value_map` from raw mask values to classes, and the allowed raw values in words."""
        raise NotImplementedError

    def prepare_data(self) -> None:
        if self.download:
            for split in self.official.values():
                self.reader(split, download=True)

    def load(self) -> dict[str, Split]:
        values, allowed = self.mask_values()
        splits = {}
        for ours, theirs in self.official.items():
            try:
                dataset = self.reader(theirs, download=False)
            except RuntimeError:  # torchvision: "Dataset not found"
                raise not_found(
                    self.title,
                    [self.data_dir / self.folder],
                    f"pass data.data_dir=DIR holding {self.folder}/, or data.download=true when online "
                    f"({self.download_size})",
                ) from None
            splits[ours] = read_pairs(self.files(dataset), self.in_channels, self.image_size, values, allowed)
        return splits


def _voc_colors(count: int) -> list[Color]:
    """VOC's palette: the bits of the class index spread over the high bits of r, g and b."""
    colors = []
    for index in range(count):
        rgb = [0, 0, 0]
        for shift in range(7, -1, -1):
            for channel in range(3):
                rgb[channel] |= ((index >> channel) & 1) << shift
            index >>= 3
        colors.append((rgb[0], rgb[1], rgb[2]))
    return colors


class VOCDataModule(PhotoSegmentationDataModule):
    """PASCAL VOC 2012 segmentation: 21 classes (background and 20 objects); 255 on object boundaries becomes
    `ignore_index`. Official `train` -> train/val by the data seed, official `val` -> test.

    Reads `data_dir/VOCdevkit/VOC2012/{JPEGImages,SegmentationClass,ImageSets/Segmentation}`.
    """

    title = "PASCAL VOC 2012"
    folder = "VOCdevkit/VOC2012"
    official: ClassVar[dict[str, str]] = {"train": "train", "test": "val"}
    download_size = "2 GB"
    class_names: ClassVar[list[str]] = [
        "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
        "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
    ]  # fmt: skip
    class_colors = _voc_colors(21)

    def reader(self, split: str, download: bool) -> Dataset:
        return torchvision.datasets.VOCSegmentation(self.data_dir, year="2012", image_set=split, download=download)

    def files(self, dataset: Dataset) -> list[tuple[Path, Path]]:
        return [(Path(image), Path(mask)) for image, mask in zip(dataset.images, dataset.masks, strict=True)]

    def mask_values(self) -> tuple[Tensor, str]:
        table = {**{index: index for index in range(len(self.class_names))}, 255: self.fill}
        return value_map(table), f"0..{len(self.class_names) - 1} (classes) and 255 (boundaries)"


class OxfordPetsDataModule(PhotoSegmentationDataModule):
    """Oxford-IIIT Pet trimaps as 2 classes: background 0 and pet 1; the trimap's border becomes `ignore_index`.
    Official `trainval` -> train/val by the data seed, official `test` -> test.

    Reads `data_dir/oxford-iiit-pet/{images,annotations/trimaps,annotations/trainval.txt,annotations/test.txt}`.
    """

    title = "Oxford-IIIT Pet"
    folder = "oxford-iiit-pet"
    official: ClassVar[dict[str, str]] = {"train": "trainval", "test": "test"}
    download_size = "800 MB"
    class_names: ClassVar[list[str]] = ["background", "pet"]

    def reader(self, split: str, download: bool) -> Dataset:
        return torchvision.datasets.OxfordIIITPet(
            self.data_dir, split=split, target_types="segmentation", download=download
        )

    def files(self, dataset: Dataset) -> list[tuple[Path, Path]]:
        # torchvision keeps the paths private; opening the files ourselves lets JPEGs decode at a reduced scale.
        return list(zip(dataset._images, dataset._segs, strict=True))

    def mask_values(self) -> tuple[Tensor, str]:
        return value_map({1: 1, 2: 0, 3: self.fill}), "1 (pet), 2 (background) and 3 (border)"
