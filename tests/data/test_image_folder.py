"""data=image_folder below the CLI: decoding every file form, the survey, the split draws, and the memory and
disk paths giving the same batches."""

from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from PIL import Image

from src.data import decoded
from src.data.folder_survey import survey_folder
from src.data.images import decode_image
from tests.conftest import compose_config
from tests.image_folders import CLASSES, items_of, save_as, write_class_folders


def datamodule(root: Path, *overrides: str):
    data = instantiate(compose_config("train", "data=image_folder", f"data.data_dir={root}", *overrides).data)
    data.setup("fit")
    return data


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_class_folders(tmp_path_factory.mktemp("own") / "images", train=16, test=4)


@pytest.mark.parametrize("form", range(8))
def test_every_file_form_decodes_to_the_item(tmp_path: Path, form: int) -> None:
    """L, LA, P, I;16, CMYK, RGB(A) in PNG, JPEG, GIF, TIFF, BMP, WebP, and an EXIF-turned JPEG: the grey item."""
    item = items_of(CLASSES["bag"], 1)[0]
    save_as(item, tmp_path / "item", form)
    image, _, _ = decode_image(next(tmp_path.iterdir()), 1, (28, 28))
    error = (image[0].float() - torch.from_numpy(item).float()).abs().mean()
    lossy = {1: 12.0, 7: 3.0}  # JPEG, and the JPEG resized from 40 px
    assert error <= lossy.get(form, 0.0)


def test_transparent_pixels_are_black_and_wide_values_scaled(tmp_path: Path) -> None:
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., :3], rgba[:2, ..., 3] = 255, 255  # white everywhere, opaque only in the top half
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    image, mode, _ = decode_image(tmp_path / "a.png", 3, (4, 4))
    assert mode == "RGBA" and image[:, :2].min() == 255 and image[:, 2:].max() == 0
    Image.fromarray(np.full((4, 4), 65535, np.uint16)).save(tmp_path / "wide.png")
    assert decode_image(tmp_path / "wide.png", 1, (4, 4))[0].min() == 255  # not clipped from 65535 to 255


def test_the_survey_reads_classes_channels_size_and_leaves_out_other_files(tmp_path: Path) -> None:
    root = write_class_folders(tmp_path / "mixed", train=8, test=2)
    (root / "train" / "bag" / "notes.txt").write_text("not an image")
    survey = survey_folder(str(root), None)
    assert survey.class_names == tuple(sorted(CLASSES)) and survey.left_out == 1
    assert survey.in_channels == 3 and survey.image_size == (28, 28)  # some files are colour; most are 28 px
    grey = tmp_path / "grey"
    for name, label in CLASSES.items():
        for number, item in enumerate(items_of(label, 3)):
            _save_grey(item, grey / "train" / name / f"{number}.png")
    assert survey_folder(str(grey), None).in_channels == 1
    assert survey_folder(str(grey), None).image_size == (64, 128)  # 100 x 200 scaled to 128 on the long side


def _save_grey(item: np.ndarray, path: Path) -> None:
    """A grey PNG of 200 x 100 pixels."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(item).resize((200, 100)).save(path)


def test_missing_splits_are_drawn_from_train_by_class(folder: Path) -> None:
    data = datamodule(folder, "data.val_size=0.25")
    sizes = {split: len(data.splits[split]) for split in ("train", "val", "test")}
    assert sizes == {"train": 48, "val": 16, "test": 16}  # test/ as found; val: a quarter of each class
    assert torch.bincount(data.splits["val"].tensors[1]).tolist() == [4, 4, 4, 4]
    again = datamodule(folder, "data.val_size=0.25")
    assert torch.equal(again.splits["val"].tensors[0], data.splits["val"].tensors[0])


def test_memory_and_disk_give_the_same_batches(folder: Path, tmp_path: Path) -> None:
    memory = datamodule(folder, "data.cache=memory", "data.batch_size=8")
    disk = datamodule(folder, "data.cache=disk", f"data.cache_dir={tmp_path}", "data.batch_size=8")
    assert len(list(tmp_path.glob("*.u8"))) == 1
    for split in ("train", "val", "test"):
        for ours, theirs in zip(memory.splits[split].tensors, disk.splits[split].tensors, strict=True):
            assert torch.equal(ours, theirs)
    batches = []
    for data in (memory, disk):
        torch.manual_seed(0)
        batches.append(list(data.train_dataloader()))
    for ours, theirs in zip(*batches, strict=True):
        assert torch.equal(ours[0], theirs[0]) and torch.equal(ours[1], theirs[1])


def test_the_disk_file_is_written_once_and_reused(folder: Path, tmp_path: Path, monkeypatch) -> None:
    first = datamodule(folder, "data.cache=disk", f"data.cache_dir={tmp_path}")
    monkeypatch.setattr(decoded, "_decode_into", lambda *args: pytest.fail("decoded again"))
    second = datamodule(folder, "data.cache=disk", f"data.cache_dir={tmp_path}")
    assert torch.equal(first.splits["test"].tensors[0], second.splits["test"].tensors[0])


def test_unreadable_files_stop_the_run_or_are_left_out(tmp_path: Path) -> None:
    root = write_class_folders(tmp_path / "bad", train=8, test=2)
    broken = root / "train" / "bag" / "000.png"
    broken.write_bytes(broken.read_bytes()[:60])  # truncated
    with pytest.raises(ValueError, match=f"cannot read {broken}.*data.skip_bad=true"):
        datamodule(root, "data.cache=memory")
    data = datamodule(root, "data.cache=memory", "data.skip_bad=true")
    assert sum(len(data.splits[split]) for split in ("train", "val", "test")) == 4 * 10 - 1


def test_class_subsets_and_fractions_work_as_on_every_classification_set(folder: Path) -> None:
    data = datamodule(folder, "data.classes=[3,0]", "data.samples_per_class=5")
    assert data.class_names == ["tshirt", "bag"] and data.num_classes == 2  # in the order given
    assert torch.bincount(data.splits["train"].tensors[1]).tolist() == [5, 5]
    assert set(data.splits["test"].tensors[1].tolist()) == {0, 1} and len(data.splits["test"]) == 8
