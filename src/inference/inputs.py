"""The files predict reads: `input=` (a file, a folder or a glob) -> image paths, decoded as the run's data was.

Each image is decoded by PIL, converted to the run's channels (L or RGB), resized to the training size the way
the data modules resize (torchvision, antialiased) and served as uint8; the batch is normalised on the device
with the run's statistics, by `InMemoryDataModule.preprocess` as for test images.
"""

import glob
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from lightning.pytorch import LightningDataModule
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from PIL import Image
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from src.data.base import _as_batch
from src.data.csv_table import TABLE_SUFFIXES
from src.data.images import GREY_MODES, BadImageError, blank, decode_image, load_image

# Every suffix PIL can open (.png, .jpg, .jpeg, .bmp, .tif, .webp, ...).
IMAGE_SUFFIXES = frozenset(suffix for suffix, kind in Image.registered_extensions().items() if kind in Image.OPEN)
MODES = {1: "L", 3: "RGB"}
# What became of a file, per image of a batch (a tensor, like the rest of the batch: Lightning's batch_to_device
# and the writer handle four tensors, not a list of strings per image).
UNREADABLE, AS_IS, CONVERTED = 0, 1, 2  # blank image served; decoded in the run's channels; converted to them
# Image, input index, original (height, width), status (above).
Item = tuple[Tensor, int, tuple[int, int], int]


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


def check_images(paths: Sequence[Path]) -> None:
    """Fail in one line when an image run is given a table."""
    if tables := [path for path in paths if path.suffix.lower() in TABLE_SUFFIXES]:
        raise ValueError(f"input={tables[0]} is a table, but the run was trained on images; pass images")


def output_names(paths: Sequence[Path]) -> list[str]:
    """A name per input, unique: its path below the inputs' common folder without the suffix, or with it where
    two inputs would share a name (a.jpg and a.png)."""
    common = Path(os.path.commonpath([str(p.resolve().parent) for p in paths]))
    relative = [p.resolve().relative_to(common) for p in paths]
    stems = [str(r.with_suffix("")) for r in relative]
    return [str(r) if stems.count(s) > 1 else s for r, s in zip(relative, stems, strict=True)]


class ImageFiles(Dataset):
    """paths -> (image uint8 (C, H, W) at `size`, index, original (height, width), status: AS_IS or CONVERTED
    (the file was colour for a grey run, or grey for a colour one)).

    A file PIL cannot read (not an image, truncated) comes back blank with status UNREADABLE (the writer reports
    it); with `strict`, it raises a ValueError naming the file.
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
            image, mode, original = decode_image(self.paths[index], self.channels, self.size)
        except BadImageError:
            if self.strict:
                raise
            return blank(self.channels, self.size), index, (0, 0), UNREADABLE
        return image, index, original, AS_IS if same_kind(mode, self.mode) else CONVERTED

    def __getitems__(self, indices: list[int]) -> list[Tensor]:
        """A whole batch for the DataLoader, stacked here (no per-sample collation): images (B, C, H, W),
        indices (B,), original sizes (B, 2), statuses (B,)."""
        images, numbers, sizes, statuses = zip(*(self[index] for index in indices), strict=True)
        return [torch.stack(images), torch.tensor(numbers), torch.tensor(sizes), torch.tensor(statuses)]


def same_kind(mode: str, target: str) -> bool:
    """Whether a file in PIL `mode` has the run's kind of channels already (grey for L; colour for RGB)."""
    return (mode in GREY_MODES) == (target == "L")


def read_image(path: Path, mode: str, size: Sequence[int]) -> tuple[Tensor, str, tuple[int, int]]:
    """An image file -> (uint8 (C, h, w) in `mode` at its own size (a JPEG possibly at a reduced scale still at
    least `size`), the file's own mode, its own (height, width)), decoded as training decodes files
    (src/data/images.py); a ValueError naming the file if it cannot be decoded."""
    image, own = load_image(path, 1 if mode == "L" else 3, size)
    return image, own, (image.shape[1], image.shape[2])


class PredictionData(LightningDataModule):
    """The predict loader of `ImageFiles` (or table rows): in order on one device, each rank every
    `world_size`-th file under DDP (no file twice, none dropped); batches preprocessed on the device by the run's
    data module (`InMemoryDataModule.preprocess`: its mean and std)."""

    def __init__(self, files: Dataset, batch_size: int, preprocess: Callable[[Tensor], Tensor],
                 num_workers: int = 0) -> None:  # fmt: skip
        super().__init__()
        self.files, self.batch_size, self.num_workers, self.preprocess = files, batch_size, num_workers, preprocess

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
        return [self.preprocess(images), *rest]
