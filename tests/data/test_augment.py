import torch

from src.data.augment import random_crop, random_flip


def test_random_flip_flips_each_image_on_its_own() -> None:
    torch.manual_seed(0)
    images = torch.arange(64 * 2 * 3 * 4, dtype=torch.float32).view(64, 2, 3, 4)
    flipped = random_flip(images)
    same = (flipped == images).flatten(1).all(1)
    mirrored = (flipped == images.flip(-1)).flatten(1).all(1)
    assert torch.all(same | mirrored)
    assert 10 < int(mirrored.sum()) < 54  # about half, chosen per image


def test_random_crop_shifts_each_image_within_the_padding() -> None:
    torch.manual_seed(0)
    images = torch.rand(32, 3, 10, 10) + 1  # no zeros, so zero padding shows where the window moved
    cropped = random_crop(images, padding=2)
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
