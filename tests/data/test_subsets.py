"""Class and training subsets of any classification data, and the resolver that sizes num_classes to them."""

import re
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from src.data import DigitsDataModule, FashionMNISTDataModule, MNISTDataModule
from tests.conftest import compose_config, write_mnist_like

DIGITS = {"batch_size": 64, "val_size": 180, "test_size": 360, "in_channels": 1, "image_size": [8, 8]}


def digits(**kwargs) -> DigitsDataModule:
    datamodule = DigitsDataModule(**{"seed": 0, "num_classes": 10, **DIGITS, **kwargs})
    datamodule.setup("fit")
    return datamodule


def test_classes_keep_only_those_relabelled_in_the_given_order_in_every_split(tmp_path: Path) -> None:
    write_mnist_like(tmp_path)
    options = {"data_dir": str(tmp_path), "batch_size": 32, "val_size": 50, "seed": 0}
    full = FashionMNISTDataModule(num_classes=10, in_channels=1, image_size=[28, 28], **options)
    part = FashionMNISTDataModule(classes=[7, 2, 9], num_classes=3, in_channels=1, image_size=[28, 28], **options)
    full.setup("fit")
    part.setup("fit")
    assert part.class_names == ["Sneaker", "Pullover", "Ankle boot"] and part.num_classes == 3
    for split in ("train", "val", "test"):
        full_images, full_labels = full.splits[split].tensors
        images, labels = part.splits[split].tensors
        assert set(labels.tolist()) == {0, 1, 2}
        for new, old in enumerate([7, 2, 9]):  # the same samples, in the same order, under the new label
            assert torch.equal(images[labels == new], full_images[full_labels == old])


def test_a_class_that_does_not_exist_is_named_with_the_valid_range() -> None:
    with pytest.raises(ValueError, match=re.escape("data.classes has class 10, which does not exist; valid: 0..9")):
        DigitsDataModule(classes=[5, 10], seed=0, num_classes=2, **DIGITS)
    with pytest.raises(ValueError, match="distinct class indices"):
        DigitsDataModule(classes=[5, 5], seed=0, num_classes=2, **DIGITS)


def test_num_classes_must_follow_the_classes_and_the_resolver_does_that() -> None:
    with pytest.raises(ValueError, match=re.escape("data.num_classes=10 but the data has 2 classes; set it to 2")):
        digits(classes=[3, 4])
    config = OmegaConf.create({"classes": [5, 6, 7, 8, 9], "num_classes": "${class_count:${.classes},10}"})
    assert config.num_classes == 5
    config.classes = None
    assert config.num_classes == 10


def test_the_composed_config_sizes_data_and_model_to_the_classes(tmp_path: Path) -> None:
    cfg = compose_config("train", "data=mnist", "data.classes=[5,6,7]", output_dir=tmp_path)
    assert cfg.data.num_classes == 3 and cfg.model.num_classes == 3


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"train_fraction": 0}, "data.train_fraction must be in (0, 1], got 0"),
        ({"train_fraction": 1.5}, "data.train_fraction must be in (0, 1], got 1.5"),
        ({"samples_per_class": 0}, "data.samples_per_class must be a positive integer, got 0"),
        (
            {"samples_per_class": 5, "train_fraction": 0.5},
            "set only one (train_fraction=1.0 or samples_per_class=null)",
        ),
    ],
)
def test_subset_settings_are_checked(options: dict, expected: str) -> None:
    with pytest.raises(ValueError, match=re.escape(expected)):
        DigitsDataModule(seed=0, num_classes=10, **DIGITS, **options)


def test_train_fraction_is_stratified_seeded_and_leaves_val_and_test_whole() -> None:
    full, half, again = digits(), digits(train_fraction=0.5), digits(train_fraction=0.5)
    full_counts = torch.bincount(full.splits["train"].tensors[1], minlength=10)
    counts = torch.bincount(half.splits["train"].tensors[1], minlength=10)
    assert torch.equal(counts, (full_counts * 0.5).round().long())
    assert torch.equal(half.splits["train"].tensors[0], again.splits["train"].tensors[0])
    for split in ("val", "test"):
        assert torch.equal(half.splits[split].tensors[0], full.splits[split].tensors[0])
    other_seed = digits(train_fraction=0.5, seed=1)
    assert not torch.equal(other_seed.splits["train"].tensors[0], half.splits["train"].tensors[0])


def test_samples_per_class_takes_that_many_of_each_and_smaller_subsets_nest() -> None:
    five, ten = digits(samples_per_class=5), digits(samples_per_class=10)
    assert torch.equal(torch.bincount(five.splits["train"].tensors[1]), torch.full((10,), 5))
    small = {image.numpy().tobytes() for image in five.splits["train"].tensors[0]}
    large = {image.numpy().tobytes() for image in ten.splits["train"].tensors[0]}
    assert small < large  # one seeded shuffle serves every size
    with pytest.raises(ValueError, match=r"data.samples_per_class=1000 but class '\d' has \d+ training samples"):
        digits(samples_per_class=1000)


def test_subsets_combine_with_classes(mnist_dir: Path) -> None:
    datamodule = MNISTDataModule(
        data_dir=str(mnist_dir), batch_size=8, val_size=50, seed=0, in_channels=1, image_size=[28, 28],
        classes=[1, 0], num_classes=2, samples_per_class=3,
    )  # fmt: skip
    datamodule.setup("fit")
    assert datamodule.splits["train"].tensors[1].sort().values.tolist() == [0, 0, 0, 1, 1, 1]
    assert datamodule.class_names == ["1", "0"]
