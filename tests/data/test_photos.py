"""PASCAL VOC and Oxford-IIIT Pet through torchvision's readers, on tiny files in their real layouts."""

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from src.data import DataNotFoundError, OxfordPetsDataModule, VOCDataModule
from tests.conftest import assert_masks_follow_colors, save_mask, write_pets, write_voc

OPTIONS = {"batch_size": 4, "val_size": 4, "seed": 0, "in_channels": 3, "image_size": [20, 24], "ignore_index": 255}


def voc(data_dir: Path, **kwargs) -> VOCDataModule:
    datamodule = VOCDataModule(data_dir=str(data_dir), **{**OPTIONS, "num_classes": 21, **kwargs})
    datamodule.setup("fit")
    return datamodule


def pets(data_dir: Path, **kwargs) -> OxfordPetsDataModule:
    datamodule = OxfordPetsDataModule(data_dir=str(data_dir), **{**OPTIONS, "num_classes": 2, **kwargs})
    datamodule.setup("fit")
    return datamodule


def test_voc_official_train_splits_into_train_and_val_and_its_val_is_the_test(tmp_path: Path) -> None:
    datamodule = voc(write_voc(tmp_path, train=12, val=6))
    assert [len(datamodule.splits[s]) for s in ("train", "val", "test")] == [8, 4, 6]
    for split in datamodule.splits.values():
        images, masks = split.tensors
        assert images.shape[1:] == (3, 20, 24) and masks.shape[1:] == (20, 24)
        assert_masks_follow_colors(images, masks, classes=[0, 1, 15, 20, 255])  # boundaries (255) kept as ignored
    assert datamodule.class_names[15] == "person" and datamodule.class_colors[15] == (192, 128, 128)


def test_voc_boundaries_become_background_without_an_ignore_index(tmp_path: Path) -> None:
    datamodule = voc(write_voc(tmp_path), ignore_index=None)
    assert_masks_follow_colors(*datamodule.splits["test"].tensors, classes=[0, 1, 15, 20, 0])


def test_pets_trimaps_become_background_pet_and_ignored_border(tmp_path: Path) -> None:
    datamodule = pets(write_pets(tmp_path, trainval=12, test=6))
    assert [len(datamodule.splits[s]) for s in ("train", "val", "test")] == [8, 4, 6]
    assert datamodule.class_names == ["background", "pet"]
    for split in datamodule.splits.values():
        assert_masks_follow_colors(*split.tensors, classes=[1, 0, 255])  # trimap 1 pet, 2 background, 3 border


def test_a_trimap_value_outside_1_2_3_is_named_with_its_file(tmp_path: Path) -> None:
    write_pets(tmp_path)
    trimap = tmp_path / "oxford-iiit-pet" / "annotations" / "trimaps" / "beagle_test1.png"
    save_mask(trimap, np.full((40, 48), 4, np.uint8))
    with pytest.raises(ValueError, match=re.escape(f"{trimap} has the pixel value 4; allowed: 1 (pet), 2")):
        pets(tmp_path)


@pytest.mark.parametrize(("factory", "folder"), [(voc, "VOCdevkit/VOC2012"), (pets, "oxford-iiit-pet")])
def test_missing_photos_say_where_they_were_looked_for_and_how_to_get_them(tmp_path: Path, factory, folder) -> None:
    with pytest.raises(DataNotFoundError) as error:
        factory(tmp_path)
    message = str(error.value)
    assert f"looked in: {tmp_path / folder}" in message and "data.download=true" in message


def test_photos_are_normalised_like_imagenet(tmp_path: Path) -> None:
    datamodule = voc(write_voc(tmp_path))
    images = datamodule.preprocess(torch.full((1, 3, 2, 2), 255, dtype=torch.uint8))
    assert torch.allclose(
        images[0, :, 0, 0], torch.tensor([(1 - 0.485) / 0.229, (1 - 0.456) / 0.224, (1 - 0.406) / 0.225])
    )
