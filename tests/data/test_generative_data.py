"""Generative data: pixels in [0, 1], training images binarised afresh each time they are served, validation and
test images binarised once by the data seed."""

from pathlib import Path
from types import SimpleNamespace

import torch

from src.data import GenerativeFashionMNIST
from tests.conftest import write_mnist_like


def _data(folder: Path, seed: int = 0, binarize: bool = True) -> GenerativeFashionMNIST:
    data = GenerativeFashionMNIST(data_dir=str(folder), batch_size=50, val_size=50, seed=seed, num_classes=10,
                                  in_channels=1, image_size=[28, 28], binarize=binarize)  # fmt: skip
    data.setup()
    return data


def _served(data: GenerativeFashionMNIST, split: str, training: bool) -> torch.Tensor:
    data.trainer = SimpleNamespace(training=training, world_size=1)
    return data.on_after_batch_transfer(data.splits[split][list(range(50))], 0)[0]


def test_training_images_are_drawn_afresh_each_time_and_test_images_once(tmp_path: Path) -> None:
    folder = write_mnist_like(tmp_path)
    data = _data(folder)
    first, second = _served(data, "train", True), _served(data, "train", True)
    assert set(first.unique().tolist()) == {0.0, 1.0} and not torch.equal(first, second)
    grey = data.splits["train"].tensors[0][:50].float() / 255
    torch.testing.assert_close(first.mean(), grey.mean(), atol=0.01, rtol=0)  # a pixel is on with its grey level
    test = _served(data, "test", False)
    assert set(test.unique().tolist()) == {0.0, 1.0} and torch.equal(test, _served(data, "test", False))
    assert torch.equal(test, _served(_data(folder), "test", False))  # the same draw for the same data seed
    assert not torch.equal(test, _served(_data(folder, seed=1), "test", False))
    assert data.task == "generative"


def test_grey_levels_stay_grey_and_unnormalised(tmp_path: Path) -> None:
    data = _data(write_mnist_like(tmp_path), binarize=False)
    served = _served(data, "train", True)
    torch.testing.assert_close(served, data.splits["train"].tensors[0][:50].float() / 255)
