"""MNIST and Fashion-MNIST: the same IDX format, the same 60k/10k official split."""

from pathlib import Path
from typing import ClassVar

import torchvision
from torch import Tensor

from src.data.classification import ClassificationDataModule
from src.data.files import find_file, not_found, optional_path, read_idx

_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class MNISTDataModule(ClassificationDataModule):
    """LeCun's handwritten digits. Images (B, 1, 28, 28), labels (B,) in 0..9.

    Looks for the four IDX files (plain or .gz) in `data_dir` and in torchvision's layout under it
    (`data_dir/MNIST/raw`), and nowhere else; with no `data_dir`, in `default_dir`, its layout, then
    `system_dir`. `download=true` fetches them with torchvision into `data_dir`, or else `default_dir`.
    """

    dataset: ClassVar[type[torchvision.datasets.MNIST]] = torchvision.datasets.MNIST
    system_dir: ClassVar[str | None] = None
    # The command that puts a copy into system_dir.
    system_install: ClassVar[str | None] = None
    mean = (0.1307,)
    std = (0.3081,)
    class_names: ClassVar[list[str]] = [str(digit) for digit in range(10)]

    def __init__(
        self, *, data_dir: str | None = None, default_dir: str | None = None, download: bool = False, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.data_dir, self.default_dir = optional_path(data_dir), optional_path(default_dir)
        self.download = download

    @classmethod
    def candidate_dirs(cls, data_dir: Path | None, default_dir: Path | None = None) -> list[Path]:
        """Where the files are looked for, in order: a given `data_dir` is searched alone."""
        if data_dir is None and default_dir is None:
            raise ValueError(
                "data.data_dir and data.default_dir are both null; set data.data_dir=DIR holding the IDX files"
            )
        folder = data_dir or default_dir
        dirs = [folder, folder / cls.dataset.__name__ / "raw"]
        return dirs + ([Path(cls.system_dir)] if cls.system_dir and data_dir is None else [])

    @classmethod
    def how_to_get(cls, data_dir: Path | None) -> str:
        """The advice after "files not found": a given `data_dir` was searched alone; else the usual ways."""
        install = f"install them with '{cls.system_install}', " if cls.system_install else ""
        if data_dir is None:
            return f"{install}pass data.data_dir=DIR holding the IDX files, or data.download=true when online"
        system = f" and {cls.system_dir} ({cls.system_install})" if cls.system_dir else ""
        return (
            "a data.data_dir you set is searched alone: put the IDX files there, add data.download=true to fetch them "
            f"there when online, or drop data.data_dir to look in paths.data_dir{system}"
        )

    @classmethod
    def _complete_dir(cls, data_dir: Path | None, default_dir: Path | None) -> Path | None:
        names = [name for pair in _FILES.values() for name in pair]
        dirs = cls.candidate_dirs(data_dir, default_dir)
        return next((d for d in dirs if all(find_file(d, n) for n in names)), None)

    @classmethod
    def fetch(cls, data_dir: Path | None, default_dir: Path | None = None) -> None:
        """Download the files with torchvision into `data_dir`, or else `default_dir`, unless a complete copy is
        already found."""
        if cls._complete_dir(data_dir, default_dir) is None:
            for train in (True, False):
                cls.dataset(data_dir or default_dir, train=train, download=True)

    @classmethod
    def read_files(cls, data_dir: Path | None, default_dir: Path | None = None) -> dict[str, tuple[Tensor, Tensor]]:
        """{"train": (images, labels), "test": (...)}: uint8 (N, 1, 28, 28) and int64 (N,), from the first
        complete copy in `candidate_dirs`. Other modules build on the items this way (fashion_seg)."""
        folder = cls._complete_dir(data_dir, default_dir)
        if folder is None:
            raise not_found(cls.dataset.__name__, cls.candidate_dirs(data_dir, default_dir), cls.how_to_get(data_dir))
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
            self.fetch(self.data_dir, self.default_dir)

    def load(self) -> dict[str, tuple[Tensor, Tensor]]:
        return self.read_files(self.data_dir, self.default_dir)


class FashionMNISTDataModule(MNISTDataModule):
    """Zalando's Fashion-MNIST: ten kinds of clothing. Images (B, 1, 28, 28), labels (B,) in 0..9."""

    dataset = torchvision.datasets.FashionMNIST
    system_dir = "/usr/share/datasets/fashion-mnist"
    system_install = "apt-get install dataset-fashion-mnist"
    mean = (0.2860,)
    std = (0.3530,)
    class_names: ClassVar[list[str]] = torchvision.datasets.FashionMNIST.classes
