"""Classification data: images with one integer label each."""

from typing import ClassVar

import torch
from torch import Tensor

from src.data.base import InMemoryDataModule


class ClassificationDataModule(InMemoryDataModule):
    """Images (B, C, H, W), labels (B,) int64 in 0..num_classes-1. Subclasses state `class_names`."""

    task: ClassVar[str] = "classification"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dataset_class_names = list(self.class_names)

    def check_targets(self, images: Tensor, labels: Tensor) -> None:
        if labels.dtype != torch.int64 or labels.shape != images.shape[:1]:
            raise ValueError(f"labels must be int64 (N,) for {len(images)} images, got {labels.dtype} {labels.shape}")
        if len(labels) and int(labels.max()) >= len(self.dataset_class_names):
            raise ValueError(
                f"labels go up to {int(labels.max())}, past the data's {len(self.dataset_class_names)} classes"
            )

    def augment(self, images: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        """Random zoom, crop and flip per image. images: (B, C, H, W) in [0, 1]; labels (B,) unchanged."""
        images, _ = self.random_geometry(images)
        return images, labels
