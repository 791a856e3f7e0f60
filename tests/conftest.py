"""Shared fixtures: small datasets written in the real on-disk formats, and the real CLI."""

import gzip
import hashlib
import json
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
# Under pytest-xdist each worker (and the CLI it starts) computes on one thread: n workers share n cores
# instead of each oversubscribing them.
ONE_THREAD_PER_WORKER = {"OMP_NUM_THREADS": "1"} if "PYTEST_XDIST_WORKER" in os.environ else {}
if ONE_THREAD_PER_WORKER:
    torch.set_num_threads(1)
CONF = ROOT / "conf"
# The files that run the CLI most, longest first (measured alone at 9cf78bc). With `--dist loadfile` the workers
# take whole files in collection order; pytest-xdist would otherwise order them by their number of tests, which
# hands these few-test, long files out last and leaves a core idle at the end.
LONGEST_FIRST = [
    "test_bad_input.py",
    "inference/test_export.py",
    "test_config.py",
    "test_cli_options.py",
    "test_cli.py",
    "test_ddp.py",
    "inference/test_predict.py",
    "test_cli_tasks.py",
    "test_transfer_cli.py",
    "test_cli_train_eval.py",
    "test_cli_generative.py",
    "test_option_forms.py",
    "test_sweeps.py",
    "test_cli_segmentation.py",
    "test_schedule.py",
]


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config.option, "loadscopereorder"):  # pytest-xdist's reordering by test count: off
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The LONGEST_FIRST files first, in that order, then the rest as collected (a stable sort)."""
    rank = {ROOT / "tests" / name: index for index, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path, len(rank)))


def compose_config(name: str, *overrides: str, output_dir: Path | str = "/nonexistent") -> DictConfig:
    """conf/<name>.yaml composed with `overrides`, as the command line would, writing to `output_dir`."""
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose(name, overrides=[f"paths.output_dir={output_dir}", *overrides])


def loss_options() -> list[str]:
    """The loss configs that score logits against targets: all but `elbo`, which scores a VAE's output."""
    return sorted(path.stem for path in (CONF / "loss").glob("*.yaml") if path.stem != "elbo")


def write_idx(path: Path, array: np.ndarray, compress: bool) -> None:
    """IDX: 0, 0, type 0x08 (unsigned byte), ndim, then big-endian int32 sizes and the raw bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)


def write_mnist_like(
    folder: Path, n_train: int = 300, n_test: int = 100, compress: bool = True, holes: bool = False
) -> Path:
    """The four (Fashion-)MNIST IDX files: images whose mean brightness encodes the label, so nets can learn.

    holes: about half of each image's pixels are 0, like the background around a real item.
    """
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if compress else ""
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 40, (n, 28, 28)) + labels[:, None, None] * 20
        if holes:
            images *= rng.random((n, 28, 28)) < 0.5
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images, compress)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels, compress)
    return folder


@pytest.fixture
def mnist_dir(tmp_path: Path) -> Path:
    return write_mnist_like(tmp_path / "mnist")


# Colours far apart, and far from each other's blends: a resized pixel within a few units of one of them has
# (almost) nothing of another colour mixed in, so it shows which mask class lies under it.
SCENE_COLORS = np.array([[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]], dtype=np.uint8)


def scene(rng: np.random.Generator, size: tuple[int, int], values: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """An RGB image (H, W, 3) of 8x8-pixel cells and its mask (H, W): a cell of kind k has mask value values[k]
    and colour SCENE_COLORS[k]."""
    height, width = size
    cells = rng.integers(0, len(values), (-(-height // 8), -(-width // 8)))
    kinds = np.kron(cells, np.ones((8, 8), dtype=np.int64))[:height, :width]
    return SCENE_COLORS[kinds], np.asarray(values, dtype=np.uint8)[kinds]


def save_image(path: Path, image: np.ndarray) -> None:
    """PNG, or JPEG at high quality without chroma subsampling (which would smear colours across cell edges)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, **({"quality": 95, "subsampling": 0} if path.suffix == ".jpg" else {}))


def save_mask(path: Path, mask: np.ndarray, mode: str = "L") -> None:
    """A PNG whose pixel values are `mask`: grey (L), or palette indices (P, as VOC stores its masks)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.frombytes(mode, (mask.shape[1], mask.shape[0]), mask.astype(np.uint8).tobytes())
    if mode == "P":
        image.putpalette(np.random.default_rng(1).integers(0, 256, 768, dtype=np.uint8).tobytes())
    image.save(path)


def assert_masks_follow_colors(images: torch.Tensor, masks: torch.Tensor, classes: list[int]) -> None:
    """Where a pixel is within a few units of scene colour k (nothing else blended in), its mask is classes[k].

    images: uint8 (N, 3, H, W); masks: uint8 (N, H, W). Most pixels must be that clear, or nothing is tested.
    """
    colors = torch.as_tensor(SCENE_COLORS[: len(classes)]).float()
    distance = (images.permute(0, 2, 3, 1)[..., None, :].float() - colors).norm(dim=-1)  # (N, H, W, K)
    nearest, kind = distance.min(-1)
    clear = nearest < 30
    assert clear.float().mean() > 0.5
    assert torch.equal(masks[clear], torch.as_tensor(classes, dtype=torch.uint8)[kind[clear]])


def write_segmentation_folder(
    root: Path, split: str = "train", count: int = 12, size: tuple[int, int] = (40, 48), **options
) -> Path:
    """`root/split/images/NNN.png` with masks `root/split/masks/NNN.png` of classes 0..2 (see `scene`).

    options: suffix (".png" or ".jpg"), mask_mode ("L" or "P"), values (the mask values to paint).
    """
    rng = np.random.default_rng(len(split) + count)
    for index in range(count):
        image, mask = scene(rng, size, options.get("values", [0, 1, 2]))
        save_image(root / split / "images" / f"{index:03d}{options.get('suffix', '.png')}", image)
        save_mask(root / split / "masks" / f"{index:03d}.png", mask, options.get("mask_mode", "L"))
    return root


def write_voc(root: Path, train: int = 12, val: int = 6, size: tuple[int, int] = (40, 48)) -> Path:
    """VOCdevkit/VOC2012/{JPEGImages, SegmentationClass (palette PNGs), ImageSets/Segmentation/{train,val}.txt}
    with background, aeroplane (1), person (15), tvmonitor (20) and 255 boundary cells."""
    voc = root / "VOCdevkit" / "VOC2012"
    rng = np.random.default_rng(2)
    for split, count in (("train", train), ("val", val)):
        names = [f"2012_{split}_{index:04d}" for index in range(count)]
        for name in names:
            image, mask = scene(rng, size, [0, 1, 15, 20, 255])
            save_image(voc / "JPEGImages" / f"{name}.jpg", image)
            save_mask(voc / "SegmentationClass" / f"{name}.png", mask, "P")
        (voc / "ImageSets" / "Segmentation").mkdir(parents=True, exist_ok=True)
        (voc / "ImageSets" / "Segmentation" / f"{split}.txt").write_text("".join(f"{n}\n" for n in names))
    return root


def write_pets(root: Path, trainval: int = 12, test: int = 6, size: tuple[int, int] = (40, 48)) -> Path:
    """oxford-iiit-pet/{images/*.jpg, annotations/trimaps/*.png, annotations/{trainval,test}.txt}; trimap
    values 1 (pet), 2 (background), 3 (border), painted as SCENE_COLORS 0, 1, 2."""
    pets = root / "oxford-iiit-pet"
    rng = np.random.default_rng(3)
    for split, count in (("trainval", trainval), ("test", test)):
        names = [f"{('Abyssinian', 'beagle')[index % 2]}_{split}{index}" for index in range(count)]
        for name in names:
            image, trimap = scene(rng, size, [1, 2, 3])
            save_image(pets / "images" / f"{name}.jpg", image)
            save_mask(pets / "annotations" / "trimaps" / f"{name}.png", trimap)
        # torchvision reads "<image id> <class id> <species> <breed id>" per line.
        lines = [f"{name} {1 + index % 2} {1 + index % 2} 1\n" for index, name in enumerate(names)]
        (pets / "annotations" / f"{split}.txt").write_text("".join(lines))
    return root


def write_cifar10(root: Path, per_batch: int = 40) -> Path:
    """cifar-10-batches-py/: five training pickles, a test pickle and batches.meta, as the official release."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        labels = list(rng.integers(0, 10, per_batch))
        data = rng.integers(0, 256, (per_batch, 3 * 32 * 32), dtype=np.uint8)
        with open(folder / name, "wb") as file:
            pickle.dump({"data": data, "labels": labels}, file)
    with open(folder / "batches.meta", "wb") as file:
        pickle.dump(
            {
                "label_names": [
                    "airplane",
                    "automobile",
                    "bird",
                    "cat",
                    "deer",
                    "dog",
                    "frog",
                    "horse",
                    "ship",
                    "truck",
                ]
            },
            file,
        )
    return root


@pytest.fixture
def cifar_dir(tmp_path: Path) -> Path:
    return write_cifar10(tmp_path / "cifar")


@pytest.fixture
def cifar_checksums(cifar_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make torchvision's table of official MD5 sums describe the small files, so its check passes."""
    folder = cifar_dir / "cifar-10-batches-py"

    def md5(name: str) -> str:
        return hashlib.md5((folder / name).read_bytes()).hexdigest()

    cls = torchvision.datasets.CIFAR10
    monkeypatch.setattr(cls, "train_list", [[name, md5(name)] for name, _ in cls.train_list])
    monkeypatch.setattr(cls, "test_list", [[name, md5(name)] for name, _ in cls.test_list])
    monkeypatch.setitem(cls.meta, "md5", md5("batches.meta"))
    return cifar_dir


class _WarmCLI:
    """One tests/cli_server.py per test process: `python -m src.<module>` runs in its forked children."""

    def __init__(self) -> None:
        self.server: subprocess.Popen | None = None

    def run(self, module: str, args: tuple[str, ...], env: dict[str, str], folder: Path) -> int:
        if self.server is None or self.server.poll() is not None:  # a run's `env` only reaches its own child
            self.server = subprocess.Popen(
                [sys.executable, str(ROOT / "tests" / "cli_server.py")], cwd=ROOT, stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, text=True, env={**os.environ, **ONE_THREAD_PER_WORKER},
            )  # fmt: skip
        request = {"module": module, "args": list(args), "env": env,
                   "stdout": str(folder / "stdout"), "stderr": str(folder / "stderr")}  # fmt: skip
        self.server.stdin.write(json.dumps(request) + "\n")
        self.server.stdin.flush()
        return json.loads(self.server.stdout.readline())["returncode"]


WARM_CLI = _WarmCLI()


def run_cli(
    module: str, *overrides: str, check: bool = True, fresh: bool = False, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """`python -m src.<module> overrides...` from the project root, in a new process, with `env` added to the
    environment.

    fresh=True starts a new interpreter; otherwise the process is forked from a warm one that has imported
    torch and Lightning already (tests/cli_server.py), which saves about 5 s per run and behaves alike.
    """
    command = [sys.executable, "-m", f"src.{module}", *overrides]
    env = {**ONE_THREAD_PER_WORKER, **(env or {})}
    if fresh:
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600,
                                env={**os.environ, **env})  # fmt: skip
    else:
        with tempfile.TemporaryDirectory() as folder:
            code = WARM_CLI.run(module, overrides, env, Path(folder))
            out, err = (Path(folder) / name for name in ("stdout", "stderr"))
            result = subprocess.CompletedProcess(command, code, out.read_text(), err.read_text())
    if check and result.returncode != 0:
        raise AssertionError(
            f"{module} {' '.join(overrides)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result
