"""MNIST and Fashion-MNIST: the same IDX format, the same 60k/10k official split."""

from pathlib import Path
from typing import ClassVar

import torchvision
from torch import Tensor

from src.data.classification import ClassificationDataModule
from src.data.files import find_file, not_found, read_idx

_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class MNISTDataModule(ClassificationDataModule):
    """LeCun's handwritten digits. Images (B, 1, 28, 28), labels (B,) in 0..9.

    Looks for the four IDX files (plain or .gz) in `data_dir`, in torchvision's layout under it
    (`data_dir/MNIST/raw`), then in `system_dir`; downloads into `data_dir` with torchvision when
    `download=true`.
    """

    dataset: ClassVar[type[torchvision.datasets.MNIST]] = torchvision.datasets.MNIST
    system_dir: ClassVar[str | None] = None
    install_hint: ClassVar[str] = "pass data.data_dir=DIR holding the IDX files, or data.download=true when online"
    mean = (0.1307,)
    std = (0.3081,)
    class_names: ClassVar[list[str]] = [str(digit) for digit in range(10)]

    def __init__(self, *, data_dir: str, download: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.data_dir = Path(data_dir).expanduser()
        self.download = download

    @classmethod
    def candidate_dirs(cls, data_dir: Path) -> list[Path]:
        """Where the files are looked for, in order."""
        dirs = [data_dir, data_dir / cls.dataset.__name__ / "raw"]
        return dirs + ([Path(cls.system_dir)] if cls.system_dir else [])

    @classmethod
    def _complete_dir(cls, data_dir: Path) -> Path | None:
        names = [name for pair in _FILES.values() for name in pair]
        return next((d for d in cls.candidate_dirs(data_dir) if all(find_file(d, n) for n in names)), None)

    @classmethod
    def fetch(cls, data_dir: Path) -> None:
        """Download the files into `data_dir` with torchvision, unless a complete copy is already found."""
        if cls._complete_dir(data_dir) is None:
            for train in (True, False):
                cls.dataset(data_dir, train=train, download=True)

    @classmethod
    def read_files(cls, data_dir: Path) -> dict[str, tuple[Tensor, Tensor]]:
        """{"train": (images, labels), "test": (...)}: uint8 (N, 1, 28, 28) and int64 (N,), from the first
        complete copy in `candidate_dirs(data_dir)`. Other modules build on the items this way (fashion_seg)."""
        folder = cls._complete_dir(data_dir)
        if folder is None:
            raise not_found(cls.dataset.__name__, cls.candidate_dirs(data_dir), cls.install_hint)
        splits = {}
        for split, (image_name, label_name) in _FILES.items():
            images = read_idx(find_file(folder, image_name)).unsqueeze(1)  # (N, 28, 28) -> (N, 1, 28, 28)
            labels = read_idx(find_file(folder, label_name)).long()
            if len(images) != len(labels):
                raise ValueError(f"{folder}: {len(images)} {split} images but {len(labels)} labels")
            splits[split] = (images, labels)
        return splits

    def prepare_data(self) -> None:
        if self.download:
            self.fetch(self.data_dir)

    def load(self) -> dict[str, tuple[Tensor, Tensor]]:
        return self.read_files(self.data_dir)


class FashionMNISTDataModule(MNISTDataModule):
    """Zalando's Fashion-MNIST: ten kinds of clothing. Images (B, 1, 28, 28), labels (B,) in 0..9."""

    dataset = torchvision.datasets.FashionMNIST
    system_dir = "/usr/share/datasets/fashion-mnist"
    install_hint = (
        "install them with 'apt-get install dataset-fashion-mnist', pass data.data_dir=DIR holding the IDX "
        "files, or data.download=true when online"
    )
    mean = (0.2860,)
    std = (0.3530,)
    class_names: ClassVar[list[str]] = torchvision.datasets.FashionMNIST.classes
