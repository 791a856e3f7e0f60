"""CIFAR-10 through torchvision's reader of the official python pickle batches."""

import pickle
from pathlib import Path
from typing import ClassVar

import torch
import torchvision
from torch import Tensor

from src.data.classification import ClassificationDataModule
from src.data.files import not_found


class _AnyChecksumCIFAR10(torchvision.datasets.CIFAR10):
    """torchvision's reader, accepting files whose MD5 differs from the official release (None: not checked)."""

    _CIFAR10 = torchvision.datasets.CIFAR10
    train_list: ClassVar[list] = [[name, None] for name, _ in _CIFAR10.train_list]
    test_list: ClassVar[list] = [[name, None] for name, _ in _CIFAR10.test_list]
    meta: ClassVar[dict] = {**_CIFAR10.meta, "md5": None}


class CIFAR10DataModule(ClassificationDataModule):
    """Krizhevsky's CIFAR-10. Images (B, 3, 32, 32), labels (B,) in 0..9.

    Reads `data_dir/cifar-10-batches-py/` (downloaded there with `download=true`). torchvision checks every
    file against the official MD5 sums; `verify_checksums=false` accepts a re-packed copy. The batches are
    pickles: load only files you trust.
    """

    mean = (0.4914, 0.4822, 0.4465)
    std = (0.2470, 0.2435, 0.2616)
    class_names: ClassVar[list[str]] = [
        "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"
    ]  # fmt: skip

    def __init__(self, *, data_dir: str, download: bool = False, verify_checksums: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.data_dir = Path(data_dir).expanduser()
        self.download = download
        self.reader = torchvision.datasets.CIFAR10 if verify_checksums else _AnyChecksumCIFAR10

    def prepare_data(self) -> None:
        if self.download:
            self.reader(self.data_dir, download=True)

    def load(self) -> dict[str, tuple[Tensor, Tensor]]:
        folder = self.data_dir / self.reader.base_folder
        if not folder.is_dir():
            raise not_found(
                "CIFAR-10",
                [folder],
                "pass data.data_dir=DIR holding cifar-10-batches-py/, or data.download=true when online",
            )
        splits = {}
        for split in ("train", "test"):
            try:
                dataset = self.reader(self.data_dir, train=split == "train")
            except RuntimeError as error:  # torchvision: missing file or MD5 mismatch
                raise ValueError(f"{folder}: {error} (data.verify_checksums=false accepts a re-packed copy)") from None
            except (pickle.UnpicklingError, EOFError, KeyError, ValueError) as error:
                raise ValueError(f"{folder}: a batch file is damaged ({error!r}); fetch the files again") from None
            images = torch.from_numpy(dataset.data).permute(0, 3, 1, 2).contiguous()  # (N, H, W, C) -> (N, C, H, W)
            splits[split] = (images, torch.tensor(dataset.targets))
        return splits
