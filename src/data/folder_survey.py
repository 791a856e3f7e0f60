"""What a folder of one's own images holds, found before any image is decoded: its classes, its files and their
labels, and the channels and size most of its images have.

Two layouts, as torchvision's `ImageFolder` and a labels file:
- `DIR/train/<class>/**/*.png|jpg|...`, optional `DIR/val/` and `DIR/test/` alike; classes are the sorted folder
  names of train/ (a val/ or test/ class must be one of them);
- a CSV file with the columns `path,label` (paths relative to the file) and optionally `split` (train, val or
  test); `label` holds one class name, or several separated by `;` (which makes the data multi-label).

The survey is cached per process: the config's resolvers (class names, channels, size), the task's choice and
the data module all read it once.
"""

import csv
import functools
import os
import statistics
from dataclasses import dataclass
from pathlib import Path

from src.data.files import not_found
from src.data.images import GREY_MODES, IMAGE_SUFFIXES, is_image, peek

SPLITS = ("train", "val", "test")
LABEL_SEPARATOR = ";"
LAYOUT = (
    "expected DIR/train/<class name>/<images> (optionally DIR/val/ and DIR/test/ alike), or a labels file "
    "data.labels=FILE.csv with columns path,label"
)
SAMPLED = 64  # files whose headers say the set's channels and size
LONGEST_SIDE = 128  # the default image size keeps the files' shape, at most this long


@dataclass(frozen=True)
class FolderSurvey:
    """class_names sorted; files and labels (class indices per file) per split found (train always);
    left_out: files that are not images."""

    class_names: tuple[str, ...]
    files: dict[str, list[Path]]
    labels: dict[str, list[tuple[int, ...]]]
    multilabel: bool
    left_out: int
    in_channels: int
    image_size: tuple[int, int]

    def facts(self) -> dict[str, object]:
        """What the data config interpolates (`${survey:<key>}`)."""
        return {
            "class_names": list(self.class_names),
            "num_classes": len(self.class_names),
            "in_channels": self.in_channels,
            "image_size": list(self.image_size),
            "task": "multilabel" if self.multilabel else "classification",
        }


@functools.cache
def survey_folder(data_dir: str | None, labels: str | None) -> FolderSurvey:
    """Survey the labels file `labels` or, without one, `data_dir` (class folders); one-line errors for a layout
    that cannot be trained on."""
    if labels:
        class_names, files, label_names, left_out = _read_labels_file(Path(labels).expanduser())
    elif data_dir:
        class_names, files, label_names, left_out = _scan_class_folders(Path(data_dir).expanduser())
    else:
        raise ValueError(f"data=image_folder needs data.data_dir=DIR or data.labels=FILE.csv; {LAYOUT}")
    if len(class_names) < 2:
        raise ValueError(
            f"{labels or data_dir} has {len(class_names)} class ({', '.join(class_names) or 'none'}); a classifier "
            "needs at least two"
        )
    index = {name: number for number, name in enumerate(class_names)}
    encoded = {split: [tuple(index[name] for name in names) for names in label_names[split]] for split in files}
    multilabel = any(len(names) > 1 for split in encoded.values() for names in split)
    in_channels, image_size = _common_shape([file for split in files.values() for file in split])
    return FolderSurvey(tuple(class_names), files, encoded, multilabel, left_out, in_channels, image_size)


def _scan_class_folders(root: Path) -> tuple[list[str], dict[str, list[Path]], dict[str, list[list[str]]], int]:
    if not (root / "train").is_dir():
        raise not_found("Image folder", [root / "train"], LAYOUT)
    class_names = sorted(entry.name for entry in os.scandir(root / "train") if _visible_dir(entry))
    files: dict[str, list[Path]] = {}
    labels: dict[str, list[list[str]]] = {}
    left_out = 0
    for split in (s for s in SPLITS if (root / s).is_dir()):
        found = sorted(entry.name for entry in os.scandir(root / split) if _visible_dir(entry))
        if strangers := [name for name in found if name not in class_names]:
            raise ValueError(
                f"{root / split / strangers[0]} is a class that {root / 'train'} lacks; every class of {split}/ "
                "needs training images (rename it to a training class, or add it to train/)"
            )
        files[split], labels[split] = [], []
        for name in found:
            images, others = _images_under(root / split / name)
            if not images:
                raise ValueError(
                    f"{root / split / name} holds no images ({', '.join(IMAGE_SUFFIXES)}); add some or remove the "
                    "folder"
                )
            files[split] += images
            labels[split] += [[name]] * len(images)
            left_out += others
    return class_names, files, labels, left_out


def _visible_dir(entry: os.DirEntry) -> bool:
    return entry.is_dir() and not entry.name.startswith(".")


def _images_under(folder: Path) -> tuple[list[Path], int]:
    """The image files anywhere under `folder`, sorted, and how many other files it holds."""
    images, others = [], 0
    for directory, subdirs, names in os.walk(folder, followlinks=True):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        for name in names:
            if name.startswith("."):
                continue
            if is_image(Path(name)):
                images.append(Path(directory) / name)
            else:
                others += 1
    return sorted(images), others


def _read_labels_file(path: Path) -> tuple[list[str], dict[str, list[Path]], dict[str, list[list[str]]], int]:
    if not path.is_file():
        raise FileNotFoundError(f"data.labels={path} does not exist; give a CSV file with columns path,label")
    with open(path, newline="") as file:
        reader = csv.DictReader(file)
        columns = [name.strip() for name in reader.fieldnames or []]
        if "path" not in columns or "label" not in columns:
            raise ValueError(f"{path} needs the columns path and label (and optionally split); it has {columns}")
        rows = [{key.strip(): (value or "").strip() for key, value in row.items() if key} for row in reader]
    files: dict[str, list[Path]] = {}
    labels: dict[str, list[list[str]]] = {}
    left_out = 0
    for line, row in enumerate(rows, start=2):
        image = path.parent / row["path"]
        names = [name.strip() for name in row["label"].split(LABEL_SEPARATOR) if name.strip()]
        split = row.get("split") or "train"
        if not row["path"] or not names:
            raise ValueError(f"{path} line {line} has an empty {'path' if not row['path'] else 'label'}; fill it in")
        if split not in SPLITS:
            raise ValueError(f"{path} line {line}: split {split!r} is not one of {', '.join(SPLITS)}")
        if not image.is_file():
            raise FileNotFoundError(f"{path} line {line} names {image}, which does not exist")
        if not is_image(image):
            left_out += 1
            continue
        files.setdefault(split, []).append(image)
        labels.setdefault(split, []).append(sorted(set(names)))
    if "train" not in files:
        raise ValueError(f"{path} names no training image; rows without a split column value are training rows")
    class_names = sorted({name for split in labels.values() for names in split for name in names})
    return class_names, files, labels, left_out


def _common_shape(files: list[Path]) -> tuple[int, tuple[int, int]]:
    """From the headers of up to SAMPLED files spread over the set: 1 channel if every one is grey, else 3; the
    median height and width, scaled down to LONGEST_SIDE on the longer side."""
    step = max(1, len(files) // SAMPLED)
    found = [shape for shape in map(peek, files[::step][:SAMPLED]) if shape is not None]
    if not found:
        return 3, (LONGEST_SIDE, LONGEST_SIDE)
    channels = 1 if all(mode in GREY_MODES for mode, _ in found) else 3
    height = statistics.median_low(size[0] for _, size in found)
    width = statistics.median_low(size[1] for _, size in found)
    scale = min(1.0, LONGEST_SIDE / max(height, width))
    return channels, (max(1, round(height * scale)), max(1, round(width * scale)))
