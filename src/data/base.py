"""The in-memory data path shared by every data module, whatever its targets.

These datasets fit in memory, so each split is decoded once into uint8 tensors and batches are served by
indexing them: no per-sample Python, no per-sample transforms. Batches travel to the device as uint8 (4x less
to copy) and are converted, augmented and normalised there, in `on_after_batch_transfer`.

Subclasses by task: `ClassificationDataModule` (src/data/classification.py, labels (N,)) and
`SegmentationDataModule` (src/data/segmentation.py, masks (N, H, W)).
"""

import os
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from lightning.pytorch import LightningDataModule
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from torch import Tensor
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset
from torchvision.transforms.v2 import functional as F

from src.data.augment import random_crop, random_flip, random_scale

Split = tuple[Tensor, Tensor]  # (images uint8 (N, C, H, W), targets)


class InMemoryDataset(TensorDataset):
    """A TensorDataset that hands the DataLoader a whole batch from one index operation.

    The DataLoader calls `__getitems__` with a batch of indices from its (possibly distributed) sampler, so
    shuffling and sharding across ranks stay the DataLoader's and Lightning's business.
    """

    def __getitems__(self, indices: list[int]) -> tuple[Tensor, ...]:
        index = torch.as_tensor(indices)
        return tuple(tensor[index] for tensor in self.tensors)


def _as_batch(batch: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    """collate_fn: `__getitems__` already returns stacked tensors."""
    return batch


def positive_int(name: str, value: object, minimum: int = 1) -> int:
    """`value` if it is an integer of at least `minimum`; else a ValueError naming `data.<name>`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        wanted = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"data.{name} must be {wanted}, got {value!r}")
    return value


def _scale_range(value: Sequence[float] | None) -> tuple[float, float] | None:
    if value is None:
        return None
    if len(value) != 2 or not 0 < value[0] <= value[1]:
        raise ValueError(f"data.random_scale must be null or [low, high] with 0 < low <= high, got {list(value)}")
    return float(value[0]), float(value[1])


def channel_stats(images: Tensor, chunk: int = 4096) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """uint8 (N, C, H, W) -> per-channel mean and std on the [0, 1] scale.

    From a 256-bin histogram per channel, `chunk` images at a time: exact, and no copy of a large set (a
    memory-mapped one is read once, page by page).
    """
    values = torch.arange(256, dtype=torch.float64) / 255
    histograms = torch.zeros(images.shape[1], 256, dtype=torch.float64)
    for start in range(0, len(images), chunk):
        block = images[start : start + chunk]
        for channel in range(images.shape[1]):
            histograms[channel] += torch.bincount(block[:, channel].flatten(), minlength=256).double()
    means, stds = [], []
    for counts in histograms:
        mean = (counts * values).sum() / counts.sum()
        variance = (counts * values.square()).sum() / counts.sum() - mean.square()
        means.append(float(mean))
        stds.append(max(float(variance.clamp_min(0).sqrt()), 1 / 255))  # a blank set must not divide by 0
    return tuple(means), tuple(stds)


def held_out_size(key: str, value: object) -> int | float:
    """A held-out split's size as configured: an integer >= 1 (samples) or a fraction in (0, 1)."""
    if isinstance(value, float) and 0 < value < 1:
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"data.{key} must be an integer >= 1 (samples) or a fraction in (0, 1), got {value!r}")
    return value


def held_out_count(size: int | float, total: int) -> int:
    """How many of `total` samples a held-out size means: itself, or the fraction of `total` (at least one)."""
    return max(1, round(size * total)) if isinstance(size, float) else size


def split_off(split: Split, size: int | float, seed: int, key: str) -> tuple[Split, Split]:
    """Hold out `size` samples (a count, or a fraction of them) drawn by `seed` -> (the rest, the held out);
    `key` names the setting in errors.

    The draw depends on the data seed alone, so every model sees the same held-out samples.
    """
    images, targets = split
    count = held_out_count(size, len(targets))
    if count >= len(targets):
        raise ValueError(f"data.{key}={size} leaves no training samples out of {len(targets)}; use a smaller {key}")
    order = torch.randperm(len(targets), generator=torch.Generator().manual_seed(seed))
    held, rest = order[:count], order[count:]
    return (images[rest], targets[rest]), (images[held], targets[held])


class InMemoryDataModule(LightningDataModule):
    """Base of every data module: seeded train/val split, tensor batches, per-batch augmentation and
    normalisation.

    Subclasses implement `load()`, `check_targets()` and `augment()` and set `class_names`, and `mean`/`std`
    (left None, they are computed from the training images in `setup`). Batches after transfer are
    `(images, targets)`: images (B, C, H, W) float, normalised; targets as the subclass says.

    The config states `num_classes`, `in_channels` and `image_size` so that model configs can interpolate
    them before any file is read; `setup` checks them against the files.
    """

    task: ClassVar[str]
    # What a sample is, for errors (a net that cannot take it) and the config keys that describe it.
    inputs: ClassVar[str] = "images"
    input_keys: ClassVar[tuple[str, ...]] = ("in_channels", "image_size")
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    class_names: list[str]

    def __init__(
        self,
        *,
        batch_size: int,
        val_size: int | float,
        seed: int,
        num_classes: int,
        in_channels: int,
        image_size: Sequence[int],
        random_crop_padding: int = 0,
        random_flip: bool = False,
        random_scale: Sequence[float] | None = None,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        self.batch_size = positive_int("batch_size", batch_size)
        self.val_size = held_out_size("val_size", val_size)
        self.seed = seed
        self.num_classes = positive_int("num_classes", num_classes)
        self.in_channels = positive_int("in_channels", in_channels)
        self.image_size = tuple(image_size)
        self.random_crop_padding = positive_int("random_crop_padding", random_crop_padding, minimum=0)
        self.random_flip = random_flip
        self.random_scale = _scale_range(random_scale)
        self.num_workers = num_workers
        self.splits: dict[str, InMemoryDataset] = {}

    def example_inputs(self, batch_size: int) -> Tensor:
        """Blank inputs shaped as the net receives them, (batch_size, C, H, W): to probe it before data loads."""
        return torch.zeros(batch_size, self.in_channels, *self.image_size)

    def load(self) -> dict[str, Split]:
        """Decode the files once: {"train": (images, targets), "test": (...)}, optionally also "val".

        images uint8 (N, C, H, W); targets as the subclass says. Without "val", `setup` splits it off "train".
        """
        raise NotImplementedError

    def check_targets(self, images: Tensor, targets: Tensor) -> None:
        """Raise a ValueError if `targets` do not fit `images` and the classes."""
        raise NotImplementedError

    def select(self, splits: dict[str, Split]) -> dict[str, Split]:
        """Narrow the splits once they exist (classification's class and training subsets); by default, keep all."""
        return splits

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        loaded = self.load()
        for images, targets in loaded.values():
            self._check_matches_config(images)
            self.check_targets(images, targets)
        splits = self.select(self._split_off_val(loaded))
        self.splits = {name: InMemoryDataset(*splits[name]) for name in ("train", "val", "test")}
        if self.mean is None or self.std is None:
            self.mean, self.std = channel_stats(self.splits["train"].tensors[0])

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint keeps of the data: the statistics the net's inputs were normalised with, so that
        predict and export need no training files."""
        return {"mean": list(self.mean), "std": list(self.std)} if self.mean and self.std else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("mean") and state.get("std"):
            self.mean, self.std = tuple(state["mean"]), tuple(state["std"])

    def _split_off_val(self, loaded: dict[str, Split]) -> dict[str, Split]:
        if "val" in loaded:
            return loaded
        train, val = split_off(loaded["train"], self.val_size, self.seed, "val_size")
        return {"train": train, "val": val, "test": loaded["test"]}

    def _check_matches_config(self, images: Tensor) -> None:
        found = {"in_channels": images.shape[1], "image_size": tuple(images.shape[2:])}
        stated = {"in_channels": self.in_channels, "image_size": self.image_size}
        for key, value in found.items():
            if stated[key] != value:
                raise ValueError(f"data.{key}={stated[key]} but the files have {value}; set data.{key}={value}")
        if self.num_classes != len(self.class_names):
            count = len(self.class_names)
            raise ValueError(f"data.num_classes={self.num_classes} but the data has {count} classes; set it to {count}")

    def _loader(self, split: str, shuffle: bool = False) -> DataLoader:
        dataset = self.splits[split]
        sampler = self._shard(dataset, shuffle)
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle and sampler is None,
            sampler=sampler,
            drop_last=shuffle and len(dataset) > self.batch_size,  # never drop val/test samples
            collate_fn=_as_batch,
            num_workers=self.num_workers,
        )

    def _shard(self, dataset: InMemoryDataset, shuffle: bool) -> DistributedSampler | None:
        """Under DDP, this rank's share of a split (Lightning leaves a DistributedSampler as it is).

        Training: a fresh shuffle per epoch, cut into equal shares, so no sample is seen twice in an epoch and
        every rank steps as often. It is seeded by the run's `seed` and the epoch, as on one device (where the
        shuffle draws from the generator `seed` seeded), not by `data.seed`: the jobs of a seed sweep see their
        own orders. Val/test: rank r of w gets samples r, r + w, ..., every sample exactly once (Lightning's
        training sampler would pad the last share with repeats and so count some samples twice).
        """
        trainer = self.trainer
        if trainer is None or trainer.world_size == 1:
            return None
        ranks = {"num_replicas": trainer.world_size, "rank": trainer.global_rank}
        if shuffle:  # the seed Lightning's own distributed sampler takes: seed_everything's
            seed = int(os.environ.get("PL_GLOBAL_SEED", 0))
            return DistributedSampler(dataset, **ranks, shuffle=True, seed=seed, drop_last=True)
        return UnrepeatedDistributedSampler(dataset, **ranks, shuffle=False)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")

    def on_after_batch_transfer(self, batch: Split, dataloader_idx: int) -> tuple[Tensor, Tensor]:
        """uint8 images and stored targets -> (images float normalised (B, C, H, W), targets: int64, or float as
        stored (regression)).

        Augmented only while the trainer trains: validation and test batches are the images as stored.
        """
        images, targets = batch
        images = images.float().div_(255)
        if self.trainer is not None and self.trainer.training:
            images, targets = self.augment(images, targets)
        return self.normalize(images), targets if targets.is_floating_point() else targets.long()

    def augment(self, images: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        """Random geometry per image on the batch's device. images: (B, C, H, W) in [0, 1]."""
        raise NotImplementedError

    def random_geometry(
        self, images: Tensor, masks: Tensor | None = None, fill: int = 0
    ) -> tuple[Tensor, Tensor | None]:
        """The configured zoom, crop and flip, each drawn per image; a mask moves with its image.

        images: (B, C, H, W) in [0, 1]; masks: (B, H, W) or None; mask pixels from outside become `fill`.
        """
        if self.random_scale:
            images, masks = random_scale(images, *self.random_scale, masks=masks, fill=fill)
        if self.random_crop_padding:
            images, masks = random_crop(images, self.random_crop_padding, masks=masks, fill=fill)
        if self.random_flip:
            images, masks = random_flip(images, masks)
        return images, masks

    def preprocess(self, images: Tensor) -> Tensor:
        """uint8 (B, C, H, W) as stored -> float, normalised, never augmented: what the net sees at test time."""
        return self.normalize(images.float().div(255))

    def normalize(self, images: Tensor) -> Tensor:
        """(B, C, H, W) in [0, 1] -> zero mean, unit variance per channel (the training set's statistics)."""
        return F.normalize(images, list(self.mean), list(self.std))
