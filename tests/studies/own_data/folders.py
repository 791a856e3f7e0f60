"""The image folders the own-data figures of the README were measured on, written from real images:

    python -m tests.studies.own_data.folders fashion_png DIR     # all 70,000 Fashion-MNIST images as PNG class folders
    python -m tests.studies.own_data.folders fashion_100 DIR     # 100 training images per class, 100 test per class
    python -m tests.studies.own_data.folders tinted_4 DIR        # 4 classes in colour: items tinted over photo tiles
    python -m tests.studies.own_data.folders colour_128 DIR N    # N colour 128x128 PNGs (1 GB decoded at N = 20,000)

Fashion-MNIST comes from Debian's dataset-fashion-mnist; the photos are scikit-learn's two sample images.
"""

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from tests.image_folders import fashion_items

NAMES = ["T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle_boot"]


def fashion_png(root: Path) -> None:
    for split in ("train", "test"):
        images, labels = fashion_items(split)
        for index, (image, label) in enumerate(zip(images, labels, strict=True)):
            _save(Image.fromarray(image), root / split / NAMES[label] / f"{index:05d}.png")


def fashion_100(root: Path) -> None:
    """The first 100 official training images of each class as train/, the first 100 test images of each as test/."""
    for split in ("train", "test"):
        images, labels = fashion_items(split)
        for label, name in enumerate(NAMES):
            for index in np.flatnonzero(labels == label)[:100]:
                _save(Image.fromarray(images[index]), root / split / name / f"{index:05d}.png")


def _photo_tiles(size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Endless random size x size RGB tiles of scikit-learn's sample photos (a china temple, a flower)."""
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images
    while True:
        photo = photos[rng.integers(len(photos))]
        top, left = rng.integers(photo.shape[0] - size), rng.integers(photo.shape[1] - size)
        yield photo[top : top + size, left : left + size]


def tinted(item: np.ndarray, tile: np.ndarray, rng: np.random.Generator, size: int) -> Image.Image:
    """A grey item scaled to `size`, painted in a random colour over a photo tile (its ink decides the blend)."""
    ink = np.asarray(Image.fromarray(item).resize((size, size), Image.BILINEAR), dtype=np.float64)[..., None] / 255
    colour = rng.uniform(40, 255, 3)
    return Image.fromarray((ink * colour + (1 - ink) * tile * 0.6).round().astype(np.uint8))


def tinted_4(root: Path, size: int = 64) -> None:
    """T-shirt, trouser, bag, sneaker: 100 training and 100 test images each, any colour, on photo tiles."""
    rng = np.random.default_rng(0)
    tiles = _photo_tiles(size, rng)
    for split in ("train", "test"):
        images, labels = fashion_items(split)
        for label in (0, 1, 7, 8):
            for index in np.flatnonzero(labels == label)[:100]:
                picture = tinted(images[index], next(tiles), rng, size)
                _save(picture, root / split / NAMES[label] / f"{index:05d}.png")


def colour_128(root: Path, count: int) -> None:
    """`count` 128x128 colour PNGs of the ten classes (train/ only; a tenth is drawn for test)."""
    rng = np.random.default_rng(1)
    tiles = _photo_tiles(128, rng)
    images, labels = fashion_items("train")
    for index in range(count):
        picture = tinted(images[index % len(images)], next(tiles), rng, 128)
        _save(picture, root / "train" / NAMES[labels[index % len(images)]] / f"{index:06d}.png")


def _save(image: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


if __name__ == "__main__":
    kind, folder, *rest = sys.argv[1:]
    {"fashion_png": fashion_png, "fashion_100": fashion_100, "tinted_4": tinted_4, "colour_128": colour_128}[kind](
        Path(folder), *map(int, rest)
    )
