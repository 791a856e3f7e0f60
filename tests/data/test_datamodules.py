"""The data modules on small files written in the real formats: the real loader path, no mocks."""

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from src.data import (
    CIFAR10DataModule,
    DataNotFoundError,
    DigitsDataModule,
    FashionMNISTDataModule,
    MNISTDataModule,
)
from src.data.base import channel_stats
from src.data.files import read_idx
from tests.conftest import write_mnist_like

MNIST_SHAPE = {"num_classes": 10, "in_channels": 1, "image_size": [28, 28]}


def mnist(data_dir: Path, cls: type = MNISTDataModule, **kwargs) -> MNISTDataModule:
    options = {"batch_size": 32, "val_size": 50, "seed": 0, **MNIST_SHAPE, **kwargs}
    return cls(data_dir=str(data_dir), **options)


@pytest.mark.parametrize("compress", [True, False])
def test_mnist_reads_idx_files_plain_or_gzipped(tmp_path: Path, compress: bool) -> None:
    write_mnist_like(tmp_path, compress=compress)
    datamodule = mnist(tmp_path)
    datamodule.setup("fit")
    images, labels = datamodule.splits["train"].tensors
    assert images.dtype == torch.uint8 and images.shape == (250, 1, 28, 28)
    assert len(datamodule.splits["val"]) == 50 and len(datamodule.splits["test"]) == 100
    assert labels.dtype == torch.int64 and set(labels.tolist()) == set(range(10))


def test_mnist_finds_torchvisions_layout_under_data_dir(tmp_path: Path) -> None:
    write_mnist_like(tmp_path / "FashionMNIST" / "raw", compress=False)
    datamodule = mnist(tmp_path, FashionMNISTDataModule)
    datamodule.setup("fit")
    assert len(datamodule.splits["test"]) == 100


def test_missing_files_name_every_place_looked_and_how_to_get_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(DataNotFoundError) as error:
        mnist(tmp_path / "nowhere").setup("fit")
    message = str(error.value)
    assert str(tmp_path / "nowhere") in message and str(tmp_path / "nowhere" / "MNIST" / "raw") in message
    assert "data.download=true" in message
    # Fashion-MNIST also looks in the system's copy and says how to install it (pointed at an empty place,
    # as this machine may have the real one).
    monkeypatch.setattr(FashionMNISTDataModule, "system_dir", str(tmp_path / "system"))
    with pytest.raises(DataNotFoundError) as error:
        mnist(tmp_path / "nowhere", FashionMNISTDataModule).setup("fit")
    message = str(error.value)
    assert str(tmp_path / "nowhere" / "FashionMNIST" / "raw") in message and str(tmp_path / "system") in message
    assert "apt-get install dataset-fashion-mnist" in message


def test_damaged_idx_files_are_named(tmp_path: Path) -> None:
    folder = write_mnist_like(tmp_path, compress=False)
    path = folder / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ValueError, match="train-images-idx3-ubyte is truncated or damaged"):
        read_idx(path)
    path.write_bytes(b"not an idx file")
    with pytest.raises(ValueError, match="bad header"):
        mnist(tmp_path).setup("fit")
    gz = tmp_path / "t.gz"
    gz.write_bytes(b"\x1f\x8b broken")
    with pytest.raises(ValueError, match="not a readable IDX file"):
        read_idx(gz)


def test_config_that_contradicts_the_files_fails(mnist_dir: Path) -> None:
    with pytest.raises(ValueError, match=re.escape("data.in_channels=3 but the files have 1; set data.in_channels=1")):
        mnist(mnist_dir, in_channels=3).setup("fit")
    with pytest.raises(ValueError, match=re.escape("data.val_size=300 leaves no training samples")):
        mnist(mnist_dir, val_size=300).setup("fit")
    with pytest.raises(ValueError, match="data.batch_size must be a positive integer, got 0"):  # noqa: RUF043
        mnist(mnist_dir, batch_size=0)


def rows(images: torch.Tensor) -> set[bytes]:
    """Each image's bytes: a sample's identity (the test files hold no two equal images)."""
    return {image.numpy().tobytes() for image in images}


def test_split_is_seeded_and_disjoint(mnist_dir: Path) -> None:
    def splits(seed: int) -> dict[str, torch.Tensor]:
        datamodule = mnist(mnist_dir, seed=seed)
        datamodule.setup("fit")
        return {name: split.tensors[0] for name, split in datamodule.splits.items()}

    first = splits(1)
    assert torch.equal(first["val"], splits(1)["val"])
    assert not torch.equal(first["val"], splits(2)["val"])
    official = MNISTDataModule.read_files(mnist_dir)["train"][0]
    assert len(rows(official)) == 300
    train, val = rows(first["train"]), rows(first["val"])
    assert not train & val and train | val == rows(official)  # every training image in exactly one split
    assert not (train | val) & rows(first["test"])


def test_train_loader_serves_every_sample_once_per_epoch_in_a_new_order(mnist_dir: Path) -> None:
    datamodule = mnist(mnist_dir, val_size=60, batch_size=48)  # 240 training samples = 5 full batches
    datamodule.setup("fit")
    datamodule.splits["train"].tensors = (
        datamodule.splits["train"].tensors[0],
        torch.arange(240),
    )  # ids as labels
    epochs = [torch.cat([labels for _, labels in datamodule.train_dataloader()]) for _ in range(2)]
    for ids in epochs:
        assert sorted(ids.tolist()) == list(range(240))
    assert not torch.equal(epochs[0], epochs[1])
    batch_images, _ = next(iter(datamodule.train_dataloader()))
    assert batch_images.shape == (48, 1, 28, 28) and batch_images.dtype == torch.uint8


def test_val_and_test_loaders_keep_every_sample_in_order(mnist_dir: Path) -> None:
    datamodule = mnist(mnist_dir, batch_size=32)
    datamodule.setup("fit")
    labels = torch.cat([labels for _, labels in datamodule.test_dataloader()])
    assert torch.equal(labels, datamodule.splits["test"].tensors[1])  # 100 samples: the last batch of 4 is kept


def test_batches_are_normalised_after_transfer(mnist_dir: Path) -> None:
    datamodule = mnist(mnist_dir)
    datamodule.setup("fit")
    images, _ = datamodule.on_after_batch_transfer(next(iter(datamodule.val_dataloader())), 0)
    expected = (datamodule.splits["val"].tensors[0][:32].float() / 255 - 0.1307) / 0.3081
    assert images.dtype == torch.float32 and torch.allclose(images, expected)


def test_training_batches_alone_are_augmented(mnist_dir: Path) -> None:
    torch.manual_seed(0)
    datamodule = mnist(mnist_dir, random_flip=True, random_scale=[0.8, 1.2])
    datamodule.setup("fit")
    stored, labels = datamodule.splits["val"].tensors[0][:32], datamodule.splits["val"].tensors[1][:32]
    datamodule.trainer = SimpleNamespace(training=False, world_size=1)
    images, served_labels = datamodule.on_after_batch_transfer((stored, labels), 0)
    assert torch.equal(images, datamodule.preprocess(stored)) and torch.equal(served_labels, labels)
    datamodule.trainer.training = True
    images, served_labels = datamodule.on_after_batch_transfer((stored, labels), 0)
    assert (images != datamodule.preprocess(stored)).flatten(1).any(1).all() and torch.equal(served_labels, labels)


def test_channel_stats_match_torch() -> None:
    images = torch.randint(0, 256, (20, 3, 9, 7), dtype=torch.uint8)
    mean, std = channel_stats(images)
    expected_std, expected_mean = torch.std_mean(images.double() / 255, dim=(0, 2, 3), correction=0)
    assert torch.allclose(torch.tensor(mean, dtype=torch.float64), expected_mean)
    assert torch.allclose(torch.tensor(std, dtype=torch.float64), expected_std)


def test_cifar10_reads_the_pickle_batches_with_checksums(cifar_checksums: Path) -> None:
    datamodule = CIFAR10DataModule(
        data_dir=str(cifar_checksums),
        batch_size=16,
        val_size=20,
        seed=0,
        num_classes=10,
        in_channels=3,
        image_size=[32, 32],
    )
    datamodule.setup("fit")
    images, _ = datamodule.splits["train"].tensors
    assert images.shape == (180, 3, 32, 32) and images.dtype == torch.uint8
    assert len(datamodule.splits["test"]) == 40


def test_cifar10_checksum_mismatch_is_explained(cifar_dir: Path) -> None:
    options = {
        "batch_size": 16,
        "val_size": 20,
        "seed": 0,
        "num_classes": 10,
        "in_channels": 3,
        "image_size": [32, 32],
    }
    with pytest.raises(ValueError, match=re.escape("data.verify_checksums=false accepts a re-packed copy")):
        CIFAR10DataModule(data_dir=str(cifar_dir), **options).setup("fit")
    unchecked = CIFAR10DataModule(data_dir=str(cifar_dir), verify_checksums=False, **options)
    unchecked.setup("fit")
    assert len(unchecked.splits["train"]) == 180
    (cifar_dir / "cifar-10-batches-py" / "test_batch").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="a batch file is damaged"):
        CIFAR10DataModule(data_dir=str(cifar_dir), verify_checksums=False, **options).setup("fit")


def test_digits_holds_out_a_seeded_test_split() -> None:
    options = {
        "batch_size": 64,
        "val_size": 180,
        "test_size": 360,
        "num_classes": 10,
        "in_channels": 1,
        "image_size": [8, 8],
    }
    first, second = DigitsDataModule(seed=3, **options), DigitsDataModule(seed=3, **options)
    first.setup("fit")
    second.setup("fit")
    assert [len(first.splits[s]) for s in ("train", "val", "test")] == [1257, 180, 360]
    assert torch.equal(first.splits["test"].tensors[0], second.splits["test"].tensors[0])
    assert first.splits["train"].tensors[0].max() == 255
