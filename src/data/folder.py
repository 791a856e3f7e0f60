"""The user's own segmentation data: image files with class-index PNG masks, in folders."""

from collections.abc import Sequence
from pathlib import Path

from src.data.base import Split, split_off
from src.data.files import not_found
from src.data.segmentation import SegmentationDataModule, class_values, read_pairs

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
LAYOUT = (
    "expected <data_dir>/train/images/*.png|jpg|jpeg with a mask <data_dir>/train/masks/<same name>.png for "
    "each (pixel value = class index), and optionally <data_dir>/test/ in the same layout"
)


def find_pairs(folder: Path) -> list[tuple[Path, Path]]:
    """(image, mask) paths under `folder`/images and `folder`/masks, sorted by image name."""
    images_dir, masks_dir = folder / "images", folder / "masks"
    found = images_dir.glob("*") if images_dir.is_dir() else []
    images = sorted(path for path in found if path.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise not_found("Image", [images_dir], LAYOUT)
    pairs = []
    for image in images:
        mask = masks_dir / f"{image.stem}.png"
        if not mask.is_file():
            raise FileNotFoundError(
                f"no mask for {image}: looked for {mask.name} in {masks_dir}; every image needs a mask of its name"
            )
        pairs.append((image, mask))
    stems = [image.stem for image in images]
    if len(set(stems)) != len(stems):
        twin = next(stem for stem in stems if stems.count(stem) > 1)
        raise ValueError(f"{images_dir} has two images named {twin} (one mask cannot serve both); rename one")
    return pairs


class FolderDataModule(SegmentationDataModule):
    """Segmentation from `data_dir`: `train/images/*.{png,jpg,jpeg}` with `train/masks/<same name>.png`, and
    `test/` in the same layout if there is one; without it `test_size` training pairs are held out by the data
    seed. Masks are PNGs of mode L or P whose pixel values are class indices (or `ignore_index`).

    Images are converted to `in_channels` (1: L, 3: RGB) and resized to `image_size` (bilinear with antialias;
    masks nearest) once, when loaded. `class_names` (and optional `class_colors`) come from the config;
    mean/std are those of the training images.
    """

    def __init__(self, *, data_dir: str, class_names: Sequence[str], test_size: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.class_names = list(class_names)
        if len(self.class_names) != self.num_classes:
            raise ValueError(
                f"data.num_classes={self.num_classes} but data.class_names has {len(self.class_names)} names; "
                f"set data.num_classes={len(self.class_names)}"
            )
        self.data_dir = Path(data_dir).expanduser()
        self.test_size = test_size

    def load(self) -> dict[str, Split]:
        train = self._read(self.data_dir / "train")
        if (self.data_dir / "test").is_dir():
            return {"train": train, "test": self._read(self.data_dir / "test")}
        if self.test_size is None:
            raise ValueError(
                f"{self.data_dir} has no test/ folder and data.test_size is null; add one or set test_size"
            )
        # No test folder: hold out test pairs by the data seed, before the validation split.
        train, test = split_off(train, self.test_size, self.seed, "test_size")
        return {"train": train, "test": test}

    def _read(self, folder: Path) -> Split:
        allowed = f"0..{self.num_classes - 1} (data.class_names)"
        if self.ignore_index is not None:
            allowed += f" and {self.ignore_index} (data.ignore_index)"
        values = class_values(self.num_classes, self.ignore_index)
        return read_pairs(find_pairs(folder), self.in_channels, self.image_size, values, allowed)
