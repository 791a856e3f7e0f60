"""scikit-learn's bundled 8x8 digits: no download, seconds to train; a smoke test of the whole path."""

from typing import ClassVar

import torch
from torch import Tensor

from src.data.base import split_off
from src.data.classification import ClassificationDataModule


class DigitsDataModule(ClassificationDataModule):
    """1,797 grey 8x8 digits. Images (B, 1, 8, 8), labels (B,) in 0..9.

    There is no official test split, so `test_size` images are held out by the data seed before the
    train/val split.
    """

    mean = (0.305,)
    std = (0.377,)
    class_names: ClassVar[list[str]] = [str(digit) for digit in range(10)]

    def __init__(self, *, test_size: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.test_size = test_size

    def load(self) -> dict[str, tuple[Tensor, Tensor]]:
        from sklearn.datasets import load_digits  # imported here: only this dataset needs scikit-learn

        digits = load_digits()
        # Pixel intensities are 0..16; scale them to the 0..255 of every other dataset.
        images = torch.from_numpy(digits.images * 255 / 16).round().to(torch.uint8).unsqueeze(1)
        labels = torch.from_numpy(digits.target).long()
        train, test = split_off((images, labels), self.test_size, self.seed, "test_size")
        return {"train": train, "test": test}
