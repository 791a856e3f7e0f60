"""Per-image random geometry: each op on its own, and image and mask moved together by all of them."""

import pytest
import torch
import torch.nn.functional as F

from src.data.augment import random_crop, random_flip, random_scale
from src.data.segmentation import SegmentationDataModule


def test_random_flip_flips_each_image_on_its_own() -> None:
    torch.manual_seed(0)
    images = torch.arange(64 * 2 * 3 * 4, dtype=torch.float32).view(64, 2, 3, 4)
    flipped, _ = random_flip(images)
    same = (flipped == images).flatten(1).all(1)
    mirrored = (flipped == images.flip(-1)).flatten(1).all(1)
    assert torch.all(same | mirrored)
    assert 10 < int(mirrored.sum()) < 54  # about half, chosen per image


def test_random_crop_shifts_each_image_within_the_padding() -> None:
    torch.manual_seed(0)
    images = torch.rand(32, 3, 10, 10) + 1  # no zeros, so zero padding shows where the window moved
    cropped, _ = random_crop(images, padding=2)
    assert cropped.shape == images.shape
    offsets = set()
    for original, crop in zip(images, cropped, strict=True):
        found = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if torch.equal(
                crop[:, max(dy, 0) : 10 + min(dy, 0), max(dx, 0) : 10 + min(dx, 0)],
                original[:, max(-dy, 0) : 10 + min(-dy, 0), max(-dx, 0) : 10 + min(-dx, 0)],
            )
        ]
        assert found, "each crop is the image shifted by at most the padding"
        offsets.add(found[0])
    assert len(offsets) > 5  # offsets are drawn per image


def test_random_scale_by_one_changes_nothing_and_zooming_out_fills_the_border() -> None:
    images, masks = torch.rand(4, 3, 16, 16), torch.randint(0, 5, (4, 16, 16), dtype=torch.uint8)
    same_images, same_masks = random_scale(images, 1.0, 1.0, masks, fill=255)
    assert torch.allclose(same_images, images, atol=1e-5) and torch.equal(same_masks, masks)
    small_images, small_masks = random_scale(images, 0.5, 0.5, masks, fill=255)
    # Half the size, centred: a 4-pixel border all round comes from outside the image.
    assert torch.all(small_masks[:, :4] == 255) and torch.all(small_masks[:, :, -4:] == 255)
    assert torch.all(small_images[:, :, :4] == 0) and bool((small_masks[:, 4:12, 4:12] < 5).all())


def test_random_scale_keeps_masks_integer_classes_and_draws_a_factor_per_image() -> None:
    torch.manual_seed(0)
    images = torch.rand(32, 1, 24, 24)
    masks = torch.randint(0, 4, (32, 24, 24), dtype=torch.uint8)
    scaled_images, scaled_masks = random_scale(images, 0.6, 1.6, masks, fill=9)
    assert scaled_masks.dtype == torch.uint8 and scaled_masks.shape == masks.shape
    assert set(scaled_masks.unique().tolist()) <= {0, 1, 2, 3, 9}  # nearest: no value between two classes
    assert (scaled_images != images).flatten(1).any(1).all()
    border = (scaled_masks == 9).flatten(1).sum(1)  # zoomed in: none from outside; zoomed out: more, the less
    assert (border == 0).any() and len(border.unique()) >= 3  # factors drawn per image


def one_hot_scene(batch: int = 16, size: int = 32, classes: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Masks of 4x4-pixel class cells (B, H, W), and images (B, classes, H, W) that are their one-hot codes."""
    cells = torch.randint(0, classes, (batch, 1, size // 4, size // 4)).float()
    masks = F.interpolate(cells, scale_factor=4, mode="nearest")[:, 0].to(torch.uint8)
    return F.one_hot(masks.long(), classes).permute(0, 3, 1, 2).float(), masks


@pytest.mark.parametrize("ignore_index", [None, 255])
def test_image_and_mask_move_together(ignore_index: int | None) -> None:
    """The image encodes its mask (one channel per class), so after augmenting wherever an image pixel is
    pure (one channel 1, the rest 0) the mask must hold that class; where the image is all 0 (from outside),
    the mask holds the fill. Moving the image alone would break this at most pixels."""
    torch.manual_seed(0)
    datamodule = SegmentationDataModule(
        batch_size=16, val_size=1, seed=0, num_classes=3, in_channels=3, image_size=[32, 32],
        random_crop_padding=4, random_flip=True, random_scale=[0.7, 1.5], ignore_index=ignore_index,
    )  # fmt: skip
    images, masks = one_hot_scene()
    moved_images, moved_masks = datamodule.augment(images, masks)
    pure = moved_images.amax(1) > 1 - 1e-4
    outside = moved_images.amax(1) < 1e-6
    assert pure.float().mean() > 0.5 and outside.any()
    assert torch.equal(moved_masks[pure], moved_images.argmax(1)[pure].to(torch.uint8))
    assert torch.all(moved_masks[outside] == (0 if ignore_index is None else 255))
    assert (moved_masks != masks).flatten(1).any(1).float().mean() > 0.9  # it did move them
    # The control: the unmoved mask disagrees with the moved image.
    assert (masks[pure] != moved_images.argmax(1)[pure]).float().mean() > 0.3
