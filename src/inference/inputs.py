"""The files predict reads: `input=` (a file, a folder or a glob) -> image paths, decoded as the run's data was.

Each image is decoded by PIL, converted to the run's channels (L or RGB), resized to the training size the way
the data modules resize (torchvision, antialiased) and served as uint8; the batch is normalised on the device
with the run's statistics, as `InMemoryDataModule.preprocess` does for test images.
"""

import glob
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from lightning.pytorch import LightningDataModule
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from PIL import Image
from torch import Tensor
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms.v2 import functional as F

from src.data.base import _as_batch

# Every suffix PIL can open (.png, .jpg, .jpeg, .bmp, .tif, .webp, ...).
IMAGE_SUFFIXES = frozenset(suffix for suffix, kind in Image.registered_extensions().items() if kind in Image.OPEN)
MODES = {1: "L", 3: "RGB"}
# Image, input index, original (height, width), the file's own colour mode ("" if unreadable: a blank image).
Item = tuple[Tensor, int, Tensor, str]


def list_inputs(spec: str) -> list[Path]:
    """input= -> the image files it names, sorted: one file, a folder's image files (not its sub-folders), or
    the files a glob matches (`**` for sub-folders). One line when nothing is there."""
    path = Path(spec).expanduser()
    if any(char in spec for char in "*?["):
        files = sorted(Path(match) for match in glob.glob(os.path.expanduser(spec), recursive=True))
        files = [file for file in files if file.is_file()]
        if not files:
            raise ValueError(f"input={spec} matches no file; check the pattern (quote it, so the shell leaves it)")
        return files
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(file for file in path.iterdir() if file.is_file() and file.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ValueError(
                f"input={spec} is a folder without image files (looked for .png, .jpg, .jpeg, .bmp, .tif, .webp ...); "
                "point it at the folder that holds the images"
            )
        return files
    raise FileNotFoundError(f"input={spec} does not exist; pass an image file, a folder of images or a glob")


def output_names(paths: Sequence[Path]) -> list[str]:
    """A name per input, unique: its path below the inputs' common folder without the suffix, or with it where
    two inputs would share a name (a.jpg and a.png)."""
    common = Path(os.path.commonpath([str(p.resolve().parent) for p in paths]))
    relative = [p.resolve().relative_to(common) for p in paths]
    stems = [str(r.with_suffix("")) for r in relative]
    return [str(r) if stems.count(s) > 1 else s for r, s in zip(relative, stems, strict=True)]


class ImageFiles(Dataset):
    """paths -> (image uint8 (C, H, W) at `size`, index, original (height, width), the file's colour mode).

    A file PIL cannot read (not an image, truncated) comes back blank with mode "" (the writer reports it); with
    `strict`, it raises a ValueError naming the file.
    """

    def __init__(self, paths: Sequence[Path], in_channels: int, size: Sequence[int], strict: bool = False) -> None:
        if in_channels not in MODES:
            raise ValueError(f"predict reads images as grey (1 channel) or RGB (3), but the run has {in_channels}")
        self.paths, self.mode, self.size, self.strict = list(paths), MODES[in_channels], list(size), strict
        self.channels = in_channels

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> Item:
        try:
            image, mode, original = read_image(self.paths[index], self.mode, self.size)
        except ValueError:
            if self.strict:
                raise
            return torch.zeros(self.channels, *self.size, dtype=torch.uint8), index, torch.tensor([0, 0]), ""
        if image.shape[-2:] != tuple(self.size):
            image = F.resize(image, self.size, antialias=True)
        return image, index, torch.tensor(original), mode

    def __getitems__(self, indices: list[int]) -> list:
        """A whole batch for the DataLoader, stacked here (no per-sample collation): images (B, C, H, W),
        indices (B,), original sizes (B, 2), modes [B]."""
        images, numbers, sizes, modes = zip(*(self[index] for index in indices), strict=True)
        return [torch.stack(images), torch.tensor(numbers), torch.stack(sizes), list(modes)]


def read_image(path: Path, mode: str, size: Sequence[int]) -> tuple[Tensor, str, tuple[int, int]]:
    """An image file -> (uint8 (C, h, w) in `mode`, the file's own mode, its own (height, width)); a ValueError
    naming the file if PIL cannot decode it. A JPEG may decode at a reduced scale still at least `size`."""
    try:
        with Image.open(path) as image:
            own, (width, height) = image.mode, image.size
            image.draft(mode, (size[1], size[0]))  # JPEG: decode as src.data's readers do (a no-op for PNG)
            return F.pil_to_tensor(image.convert(mode)), own, (height, width)
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise ValueError(f"cannot read {path} as an image ({error}); fix or remove it") from None


class PredictionData(LightningDataModule):
    """The predict loader of `ImageFiles`: in order on one device, each rank every `world_size`-th file under
    DDP (no file twice, none dropped); batches normalised on the device with the run's mean and std."""

    def __init__(self, files: ImageFiles, batch_size: int, mean: Sequence[float], std: Sequence[float],
                 num_workers: int = 0) -> None:  # fmt: skip
        super().__init__()
        self.files, self.batch_size, self.num_workers = files, batch_size, num_workers
        self.mean, self.std = list(mean), list(std)

    def predict_dataloader(self) -> DataLoader:
        trainer = self.trainer
        sharded = trainer is not None and trainer.world_size > 1
        sampler = (
            UnrepeatedDistributedSampler(self.files, trainer.world_size, trainer.global_rank, shuffle=False)
            if sharded
            else None
        )
        return DataLoader(self.files, batch_size=self.batch_size, sampler=sampler, num_workers=self.num_workers,
                          collate_fn=_as_batch)  # fmt: skip

    def on_after_batch_transfer(self, batch: list[Tensor], dataloader_idx: int) -> list[Tensor]:
        images, *rest = batch
        return [F.normalize(images.float().div(255), self.mean, self.std), *rest]
