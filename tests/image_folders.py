"""Folders of one's own images, written by the tests from real Fashion-MNIST items in the real on-disk formats:
PNG and JPEG (and BMP, TIFF, WebP) in the modes people's files come in, at several sizes, some turned by EXIF."""

import csv
import functools
from pathlib import Path

import numpy as np
from PIL import Image

from src.data.files import read_idx

FASHION = Path("/usr/share/datasets/fashion-mnist")
# Four classes a small net tells apart in an epoch or two, by their Fashion-MNIST index.
CLASSES = {"trouser": 1, "sneaker": 7, "bag": 8, "tshirt": 0}


@functools.cache
def fashion_items(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """The real Fashion-MNIST images (N, 28, 28) uint8 and labels (N,) of the official split (read once: never
    change them)."""
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(FASHION / f"{prefix}-images-idx3-ubyte.gz").numpy()
    return images, read_idx(FASHION / f"{prefix}-labels-idx1-ubyte.gz").numpy()


def items_of(label: int, count: int, split: str = "train", skip: int = 0) -> list[np.ndarray]:
    images, labels = fashion_items(split)
    return list(images[labels == label][skip : skip + count])


def save_as(item: np.ndarray, path: Path, kind: int) -> None:
    """One grey 28x28 item saved in the `kind % 8`-th of eight forms people's files take."""
    grey = Image.fromarray(item)
    path.parent.mkdir(parents=True, exist_ok=True)
    form = kind % 8
    if form == 0:
        grey.save(path.with_suffix(".png"))  # L
    elif form == 1:
        grey.convert("RGB").resize((40, 40)).save(path.with_suffix(".jpg"), quality=95)  # bigger, colour
    elif form == 2:
        Image.merge("LA", (grey, Image.new("L", grey.size, 255))).save(path.with_suffix(".png"))  # opaque alpha
    elif form == 3:
        grey.convert("RGBA").save(path.with_suffix(".webp"), lossless=True)
    elif form == 4:
        grey.convert("P").save(path.with_suffix(".gif"))  # palette
    elif form == 5:
        Image.fromarray(item.astype(np.uint16) * 257).save(path.with_suffix(".tif"))  # 16-bit grey (I;16)
    elif form == 6:
        grey.convert("RGB").save(path.with_suffix(".bmp"))
    else:  # stored sideways, with the EXIF tag that turns it upright
        exif = Image.Exif()
        exif[0x0112] = 6  # rotate 90 degrees clockwise to display
        grey.convert("CMYK").rotate(90, expand=True).save(path.with_suffix(".jpeg"), quality=95, exif=exif)


def write_class_folders(root: Path, train: int = 24, test: int = 8, val: int = 0) -> Path:
    """root/{train,test[,val]}/<class>/<n>.<png|jpg|...>: real items of CLASSES in eight file forms."""
    for split, count, skip in (("train", train, 0), ("test", test, train), ("val", val, train + test)):
        for name, label in CLASSES.items():
            for number, item in enumerate(items_of(label, count, "train", skip)):
                save_as(item, root / split / name / f"{number:03d}", number + label)
    return root


def write_labels_file(root: Path, rows: list[tuple[str, str, str]], count: int = 24) -> Path:
    """root/images/<n>.png of real items and root/labels.csv with (path, label, split) rows.

    rows: per image its label cell ("bag" or "bag;tshirt") and split; an image whose label names two classes
    shows the first class's item beside the second's (side by side, 28x56).
    """
    by_name = {name: items_of(label, count) for name, label in CLASSES.items()}
    (root / "images").mkdir(parents=True, exist_ok=True)
    with open(root / "labels.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["path", "label", "split"])
        for number, (image_name, label, split) in enumerate(rows):
            pixels = np.concatenate([by_name[name][number % count] for name in label.split(";")], axis=1)
            Image.fromarray(pixels).resize((56, 28)).save(root / "images" / image_name)
            writer.writerow([f"images/{image_name}", label, split])
    return root / "labels.csv"
