"""Fashion-MNIST canvases: seeded, masks that match their pixels, splits that share no item, the batch path."""

import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from src.data import FashionBoxesDataModule, FashionMNISTDataModule, FashionSegDataModule
from src.data.fashion_seg import compose_canvases, item_boxes
from tests.conftest import write_mnist_like

SYSTEM_COPY = Path(FashionMNISTDataModule.system_dir)


@pytest.fixture
def items_dir(tmp_path: Path) -> Path:
    return write_mnist_like(tmp_path / "fashion", n_train=400, n_test=100, holes=True)


def fashion_seg(data_dir: Path, **kwargs) -> FashionSegDataModule:
    options = {
        "batch_size": 16, "val_size": 30, "seed": 0, "num_classes": 11, "in_channels": 1, "image_size": [48, 40],
        "canvas_size": [48, 40], "train_size": 200, "test_size": 40, **kwargs,
    }  # fmt: skip
    datamodule = FashionSegDataModule(data_dir=str(data_dir), **options)
    datamodule.setup("fit")
    return datamodule


def test_canvases_are_seeded(items_dir: Path) -> None:
    first, again, other = fashion_seg(items_dir), fashion_seg(items_dir), fashion_seg(items_dir, seed=1)
    for split in ("train", "val", "test"):
        assert all(map(torch.equal, first.splits[split].tensors, again.splits[split].tensors))
        assert not torch.equal(first.splits[split].tensors[0], other.splits[split].tensors[0])


def painted_by_hand(items: np.ndarray, labels: np.ndarray, sources: np.ndarray, corners: np.ndarray, size):
    """One canvas the slow way: for each pixel, the top-most (last pasted) item whose own pixel is non-zero."""
    image, mask = np.zeros(size, np.uint8), np.zeros(size, np.uint8)
    for source, (top, left) in zip(sources, corners, strict=True):
        if source < 0:
            continue
        window = (slice(top, top + 28), slice(left, left + 28))
        shows = items[source] > 0
        image[window][shows] = items[source][shows]
        mask[window][shows] = labels[source] + 1
    return image, mask


def test_masks_are_class_plus_one_exactly_where_the_top_item_shows(items_dir: Path) -> None:
    items, labels = FashionMNISTDataModule.read_files(items_dir)["train"]
    generator = torch.Generator().manual_seed(0)
    canvases = compose_canvases(items, labels, torch.arange(400), 60, (48, 40), (1, 3), generator)
    sources, corners = canvases.sources.numpy(), canvases.corners.numpy()
    assert (corners >= 0).all() and (corners[..., 0] <= 48 - 28).all() and (corners[..., 1] <= 40 - 28).all()
    assert set((sources >= 0).sum(1).tolist()) == {1, 2, 3}
    overlaps = 0
    for index in range(60):
        image, mask = painted_by_hand(items[:, 0].numpy(), labels.numpy(), sources[index], corners[index], (48, 40))
        assert np.array_equal(canvases.images[index, 0].numpy(), image)
        assert np.array_equal(canvases.masks[index].numpy(), mask)
        boxes = [tuple(corner) for s, corner in zip(sources[index], corners[index], strict=True) if s >= 0]
        overlaps += any(abs(a[0] - b[0]) < 28 and abs(a[1] - b[1]) < 28 for a in boxes for b in boxes if a < b)
    assert overlaps > 10  # the rule was tested where items overlap, not only side by side


def test_splits_share_no_item(items_dir: Path) -> None:
    datamodule = fashion_seg(items_dir)
    used = {split: set(sources[sources >= 0].tolist()) for split, sources in datamodule.sources.items()}
    assert not used["train"] & used["val"]  # both index the official training file, which they split
    assert len(used["val"]) <= round(400 * 30 / 230) < 250 < len(used["train"])  # items split 30:200
    assert max(used["test"]) < 100  # the official test file: 100 items here
    # By content too: no item image of a validation canvas is an item image of a training canvas.
    items = FashionMNISTDataModule.read_files(items_dir)["train"][0]
    seen = {split: {items[i].numpy().tobytes() for i in used[split]} for split in ("train", "val")}
    assert not seen["train"] & seen["val"]


def test_binary_masks_mark_items_against_background(items_dir: Path) -> None:
    multi = fashion_seg(items_dir)
    binary = fashion_seg(items_dir, binary=True, num_classes=2)
    assert binary.class_names == ["background", "item"] and multi.class_names[:2] == ["background", "T-shirt/top"]
    for split in ("train", "test"):
        images, masks = binary.splits[split].tensors
        assert torch.equal(images, multi.splits[split].tensors[0])
        assert torch.equal(masks, (multi.splits[split].tensors[1] > 0).to(torch.uint8))


def test_settings_that_cannot_work_are_refused(items_dir: Path) -> None:
    with pytest.raises(ValueError, match=re.escape("data.image_size=[64, 64] but data.canvas_size=[48, 40]")):
        fashion_seg(items_dir, image_size=[64, 64])
    with pytest.raises(ValueError, match=re.escape("data.canvas_size must be [height, width], each at least 28")):
        fashion_seg(items_dir, canvas_size=[20, 64], image_size=[20, 64])
    with pytest.raises(ValueError, match=re.escape("data.items_per_canvas must be [low, high], 1 <= low <= high")):
        fashion_seg(items_dir, items_per_canvas=[3, 1])
    with pytest.raises(ValueError, match=re.escape("data.num_classes=11 but the data has 2 classes")):
        fashion_seg(items_dir, binary=True)


def test_batches_are_augmented_jointly_and_only_while_training(items_dir: Path) -> None:
    torch.manual_seed(0)
    datamodule = fashion_seg(items_dir, random_flip=True, random_crop_padding=6)
    datamodule.trainer = SimpleNamespace(training=False, world_size=1)
    stored_images, stored_masks = next(iter(datamodule.val_dataloader()))
    images, masks = datamodule.on_after_batch_transfer((stored_images, stored_masks), 0)
    assert torch.equal(images, datamodule.preprocess(stored_images))
    assert masks.dtype == torch.int64 and torch.equal(masks, stored_masks.long())
    datamodule.trainer.training = True
    stored_images, stored_masks = next(iter(datamodule.train_dataloader()))
    images, masks = datamodule.on_after_batch_transfer((stored_images, stored_masks), 0)
    assert images.shape == (16, 1, 48, 40) and masks.shape == (16, 48, 40) and masks.dtype == torch.int64
    assert not torch.equal(masks, stored_masks.long())
    # Flips and crops move pixels without blending, so a canvas's rule survives them exactly: an item's
    # class wherever its pixel is non-zero, background wherever the canvas is blank.
    blank = datamodule.preprocess(torch.zeros(1, 1, 1, 1, dtype=torch.uint8)).item()
    assert torch.equal(images[:, 0] != blank, masks > 0)


@pytest.mark.skipif(not SYSTEM_COPY.is_dir(), reason="needs the system's Fashion-MNIST (dataset-fashion-mnist)")
def test_the_default_sizes_build_from_the_real_items() -> None:
    datamodule = FashionSegDataModule(
        default_dir="/nonexistent", batch_size=64, val_size=2000, seed=42, num_classes=11, in_channels=1,
        image_size=[64, 64],
    )  # fmt: skip
    datamodule.setup("fit")  # about 1 s on 2 CPU cores
    assert [len(datamodule.splits[s]) for s in ("train", "val", "test")] == [6400, 2000, 4000]
    masks = datamodule.splits["train"].tensors[1]
    assert set(masks.unique().tolist()) == set(range(11))
    assert 0.05 < datamodule.mean[0] < 0.2  # mostly blank canvases


def test_box_targets_follow_the_canvas(tmp_path: Path) -> None:
    items = write_mnist_like(tmp_path / "items", n_train=200, n_test=50, holes=True)
    data = FashionBoxesDataModule(data_dir=str(items), batch_size=8, val_size=16, seed=1, num_classes=1,
                                  in_channels=1, image_size=[48, 40], canvas_size=[48, 40], items_per_canvas=[1, 1],
                                  train_size=64, test_size=16)  # fmt: skip
    data.setup()
    images, boxes = data.splits["train"].tensors
    assert boxes.shape == (64, 4) and boxes.dtype == torch.float32
    pixels = (boxes * torch.tensor([40, 48, 40, 48])).round().long()
    for image, (x0, y0, x1, y1) in zip(images[:, 0], pixels, strict=True):
        shows = image > 0
        assert shows[y0:y1, x0:x1].sum() == shows.sum()  # every pixel of the item inside its box
        assert shows[y0, x0:x1].any() and shows[y1 - 1, x0:x1].any()  # and the box touches it on each side
        assert shows[y0:y1, x0].any() and shows[y0:y1, x1 - 1].any()
    mask = torch.zeros(1, 6, 5, dtype=torch.uint8)
    mask[0, 1:3, 2:4] = 4
    assert item_boxes(mask)[0].tolist() == pytest.approx([2 / 5, 1 / 6, 4 / 5, 3 / 6])
    with pytest.raises(ValueError, match="moves no box with its canvas"):
        FashionBoxesDataModule(data_dir=str(items), batch_size=8, val_size=16, seed=1, num_classes=1, in_channels=1,
                               image_size=[48, 40], canvas_size=[48, 40], items_per_canvas=[1, 1],
                               random_flip=True)  # fmt: skip
