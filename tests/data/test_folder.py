"""The user's own segmentation folders: the layout read once into tensors, and one clear line per mistake."""

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from src.data import DataNotFoundError, FolderDataModule
from src.data.base import channel_stats
from tests.conftest import assert_masks_follow_colors, save_mask, write_segmentation_folder


def folder(data_dir: Path, **kwargs) -> FolderDataModule:
    options = {
        "batch_size": 4, "val_size": 3, "test_size": 3, "seed": 0, "class_names": ["background", "cat", "dog"],
        "num_classes": 3, "in_channels": 3, "image_size": [20, 24], **kwargs,
    }  # fmt: skip
    return FolderDataModule(data_dir=str(data_dir), **options)


def test_pairs_are_read_resized_and_split_by_the_seed(tmp_path: Path) -> None:
    write_segmentation_folder(tmp_path, count=12, size=(40, 48))
    datamodule = folder(tmp_path)
    datamodule.setup("fit")
    assert [len(datamodule.splits[s]) for s in ("train", "val", "test")] == [6, 3, 3]
    images, masks = datamodule.splits["train"].tensors
    assert images.shape == (6, 3, 20, 24) and images.dtype == torch.uint8
    assert masks.shape == (6, 20, 24) and masks.dtype == torch.uint8
    for split in datamodule.splits.values():
        assert_masks_follow_colors(*split.tensors, classes=[0, 1, 2])
    assert datamodule.mean == channel_stats(images)[0] and datamodule.task == "segmentation"
    again = folder(tmp_path)
    again.setup("fit")
    assert torch.equal(again.splits["test"].tensors[0], datamodule.splits["test"].tensors[0])


def test_a_test_folder_is_the_test_split(tmp_path: Path) -> None:
    write_segmentation_folder(tmp_path, "train", count=8)
    write_segmentation_folder(tmp_path, "test", count=5, suffix=".jpg", mask_mode="P")
    datamodule = folder(tmp_path, test_size=None, in_channels=1, image_size=[40, 48])
    datamodule.setup("fit")
    assert [len(datamodule.splits[s]) for s in ("train", "val", "test")] == [5, 3, 5]
    assert datamodule.splits["test"].tensors[0].shape == (5, 1, 40, 48)


def test_ignore_index_is_kept_in_the_masks(tmp_path: Path) -> None:
    write_segmentation_folder(tmp_path, count=8, values=[0, 1, 255])
    datamodule = folder(tmp_path, ignore_index=255, class_names=["background", "thing"], num_classes=2)
    datamodule.setup("fit")
    masks = torch.cat([split.tensors[1] for split in datamodule.splits.values()])
    assert set(masks.unique().tolist()) == {0, 1, 255}
    _, served = datamodule.on_after_batch_transfer(next(iter(datamodule.val_dataloader())), 0)
    assert served.dtype == torch.int64 and 255 in served.unique().tolist()


def test_a_missing_or_empty_folder_says_the_expected_layout(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match=re.escape(f"looked in: {tmp_path / 'nowhere' / 'train' / 'images'}")):
        folder(tmp_path / "nowhere").setup("fit")
    (tmp_path / "train" / "images").mkdir(parents=True)
    with pytest.raises(DataNotFoundError, match=re.escape("expected <data_dir>/train/images/*.png|jpg|jpeg")):
        folder(tmp_path).setup("fit")


def test_a_missing_mask_names_the_image_and_where_it_looked(tmp_path: Path) -> None:
    write_segmentation_folder(tmp_path, count=8)
    (tmp_path / "train" / "masks" / "005.png").unlink()
    expected = (
        f"no mask for {tmp_path / 'train' / 'images' / '005.png'}: looked for 005.png in {tmp_path / 'train' / 'masks'}"
    )
    with pytest.raises(FileNotFoundError, match=re.escape(expected)):
        folder(tmp_path).setup("fit")


def test_an_image_and_mask_of_different_sizes_are_named_with_both_sizes(tmp_path: Path) -> None:
    write_segmentation_folder(tmp_path, count=8)
    save_mask(tmp_path / "train" / "masks" / "002.png", np.zeros((30, 48), np.uint8))
    with pytest.raises(ValueError, match=r"002\.png is 48x40 but its mask .*002\.png is 48x30"):
        folder(tmp_path).setup("fit")


def test_a_mask_value_outside_the_classes_is_named_with_its_file(tmp_path: Path) -> None:
    write_segmentation_folder(tmp_path, count=8, values=[0, 1, 7])
    expected = f"{tmp_path / 'train' / 'masks'}/000.png has the pixel value 7; allowed: 0..2 (data.class_names)"
    with pytest.raises(ValueError, match=re.escape(expected)):
        folder(tmp_path).setup("fit")


def test_a_colour_mask_is_refused(tmp_path: Path) -> None:
    write_segmentation_folder(tmp_path, count=8)
    Image.new("RGB", (48, 40)).save(tmp_path / "train" / "masks" / "000.png")
    with pytest.raises(ValueError, match=re.escape("000.png is a mode RGB image; masks must be PNGs of mode L or P")):
        folder(tmp_path).setup("fit")


def test_config_mistakes_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=re.escape("data.num_classes=4 but data.class_names has 3 names")):
        folder(tmp_path, num_classes=4)
    with pytest.raises(ValueError, match=re.escape("data.ignore_index must be an integer >= 3, got 1")):
        folder(tmp_path, ignore_index=1)
    with pytest.raises(ValueError, match=re.escape("data.class_colors must be null or 3 [r, g, b] triples")):
        folder(tmp_path, class_colors=[[0, 0, 0]])
    write_segmentation_folder(tmp_path, count=8)
    with pytest.raises(ValueError, match=re.escape("has no test/ folder and data.test_size is null")):
        folder(tmp_path, test_size=None).setup("fit")
