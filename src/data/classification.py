"""Classification data: integer labels, and the class and training subsets that every classification set offers."""

from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import Tensor

from src.data.base import InMemoryDataModule, Split, positive_int


def _check_classes(classes: Sequence[int] | None, names: list[str]) -> list[int] | None:
    if classes is None:
        return None
    classes = list(classes)
    if not classes or len(set(classes)) != len(classes) or not all(isinstance(c, int) for c in classes):
        raise ValueError(f"data.classes must be null or a list of distinct class indices, got {classes}")
    for index in classes:
        if not 0 <= index < len(names):
            raise ValueError(f"data.classes has class {index}, which does not exist; valid: 0..{len(names) - 1}")
    return classes


def _check_fraction(fraction: float) -> float:
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 < fraction <= 1:
        raise ValueError(f"data.train_fraction must be in (0, 1], got {fraction}")
    return float(fraction)


def keep_classes(split: Split, classes: list[int], num_classes: int) -> Split:
    """Keep the samples of `classes` and relabel them 0..k-1 in the order given.

    split: images (N, C, H, W), labels (N,) -> images (M, C, H, W), labels (M,) in 0..k-1.
    """
    images, labels = split
    new_label = torch.full((num_classes,), -1, dtype=torch.int64)
    new_label[classes] = torch.arange(len(classes))
    relabelled = new_label[labels]
    keep = relabelled >= 0
    return images[keep], relabelled[keep]


def stratified_subset(labels: Tensor, quota: Tensor, seed: int) -> Tensor:
    """Indices of a seeded subset holding `quota[c]` samples of each class c, in their original order.

    labels: (N,) int64 in 0..C-1; quota: (C,) int64 -> (M,) int64. One shuffle serves every quota, so for a
    given seed a smaller subset lies inside a larger one.
    """
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    # A stable sort by class keeps the shuffled order within each class; a sample's rank is its place there.
    grouped = order[torch.sort(labels[order], stable=True).indices]
    grouped_labels = labels[grouped]
    counts = torch.bincount(labels, minlength=len(quota))
    first = torch.cumsum(counts, 0) - counts
    rank = torch.arange(len(labels)) - first[grouped_labels]
    return grouped[rank < quota[grouped_labels]].sort().values


class ClassificationDataModule(InMemoryDataModule):
    """Images (B, C, H, W), labels (B,) int64 in 0..num_classes-1. Subclasses state `class_names`.

    Subsets, for any classification set:
    - `classes`: keep only these classes (the dataset's indices), relabelled 0..k-1 in the order given, in
      every split; `class_names` become theirs.
    - `train_fraction` or `samples_per_class`: keep that fraction, or that many, of each class's training
      samples.
    All are drawn after the validation split, so validation and test stay whole and no validation sample ever
    trains under another choice of classes; the training subset depends on the data seed alone, so every model
    with that seed trains on the same samples.
    """

    task: ClassVar[str] = "classification"

    def __init__(
        self,
        *,
        classes: Sequence[int] | None = None,
        train_fraction: float = 1.0,
        samples_per_class: int | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.dataset_class_names = list(self.class_names)
        self.classes = _check_classes(classes, self.dataset_class_names)
        if self.classes is not None:
            self.class_names = [self.dataset_class_names[index] for index in self.classes]
        self.train_fraction = _check_fraction(train_fraction)
        if samples_per_class is not None:
            positive_int("samples_per_class", samples_per_class)
            if self.train_fraction < 1:
                raise ValueError(
                    f"data.samples_per_class={samples_per_class} and data.train_fraction={train_fraction} both "
                    "choose the training subset; set only one (train_fraction=1.0 or samples_per_class=null)"
                )
        self.samples_per_class = samples_per_class

    def check_targets(self, images: Tensor, labels: Tensor) -> None:
        if labels.dtype != torch.int64 or labels.shape != images.shape[:1]:
            raise ValueError(f"labels must be int64 (N,) for {len(images)} images, got {labels.dtype} {labels.shape}")
        if len(labels) and int(labels.max()) >= len(self.dataset_class_names):
            raise ValueError(
                f"labels go up to {int(labels.max())}, past the data's {len(self.dataset_class_names)} classes"
            )

    def select(self, splits: dict[str, Split]) -> dict[str, Split]:
        if self.classes is not None:
            total = len(self.dataset_class_names)
            splits = {name: keep_classes(split, self.classes, total) for name, split in splits.items()}
        images, labels = splits["train"]
        counts = torch.bincount(labels, minlength=self.num_classes)
        if self.samples_per_class is not None:
            scarce = int(counts.argmin())
            if counts[scarce] < self.samples_per_class:
                raise ValueError(
                    f"data.samples_per_class={self.samples_per_class} but class {self.class_names[scarce]!r} has "
                    f"{int(counts[scarce])} training samples; use at most {int(counts[scarce])}"
                )
            quota = torch.full_like(counts, self.samples_per_class)
        elif self.train_fraction < 1:
            quota = (counts * self.train_fraction).round().long().clamp_min(1)  # every class keeps a sample
        else:
            return splits
        keep = stratified_subset(labels, quota, self.seed)
        return {**splits, "train": (images[keep], labels[keep])}

    def augment(self, images: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        """Random zoom, crop and flip per image. images: (B, C, H, W) in [0, 1]; labels (B,) unchanged."""
        images, _ = self.random_geometry(images)
        return images, labels
