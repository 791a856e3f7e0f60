"""Tiny trained runs for the predict and export tests, and the image files they are given."""

from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from PIL import Image

from src.run.build import build  # also registers the config's resolvers
from src.run.checkpoints import load_checkpoint
from src.tasks import ClassificationTask, Task
from tests.conftest import compose_config, run_cli, save_image, scene, write_segmentation_folder

# A few batches of digits: seconds of training, and a net that predicts more than one class.
DIGITS = ["data=digits", "trainer.max_epochs=2", "trainer.limit_train_batches=10", "trainer.limit_val_batches=2",
          "trainer.limit_test_batches=2", "trainer.num_sanity_val_steps=0", "~callbacks.images"]  # fmt: skip
# 32x40 RGB canvases of three classes (tests/conftest.py: scene), a 2-level U-Net of width 4.
SEGMENTATION = ["data=folder", "data.class_names=[background,red,green]", "data.image_size=[32,40]",
                "data.val_size=2", "data.batch_size=4", "trainer.max_epochs=4", "optimizer.lr=0.02"]  # fmt: skip
UNET = ["model=unet", "model.base_channels=4", "model.depth=2"]


def train(folder: Path, *overrides: str) -> Path:
    """A run trained with `overrides` in `folder`; -> its best checkpoint."""
    run_cli("train", *overrides, f"hydra.run.dir={folder}")
    return folder / "checkpoints" / "best.ckpt"


def segmentation_data(root: Path) -> Path:
    """train/ (16 pairs) and test/ (4 pairs, at the training size 32x40) of the three-class scenes."""
    write_segmentation_folder(root, "train", count=16, size=(32, 40))
    return write_segmentation_folder(root, "test", count=4, size=(32, 40))


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train(tmp_path_factory.mktemp("digits_mlp"), *DIGITS, "model=mlp")


@pytest.fixture(scope="module")
def segmentation_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = segmentation_data(tmp_path_factory.mktemp("scenes"))
    return train(tmp_path_factory.mktemp("unet"), *SEGMENTATION, *UNET, f"data.data_dir={data}")


def digit_images(count: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `count` test digits as stored, uint8 (N, 8, 8), and their labels."""
    datamodule = instantiate(compose_config("train", "data=digits").data)
    datamodule.setup("test")
    images, labels = datamodule.splits["test"].tensors
    return images[:count, 0].numpy(), labels[:count].numpy()


def write_digits(folder: Path, count: int) -> list[Path]:
    """Digits as 8x8 grey PNGs, the pixels exactly those the run was tested on."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, image in enumerate(digit_images(count)[0]):
        paths.append(folder / f"digit{index:02d}.png")
        Image.fromarray(image).save(paths[-1])
    return paths


def write_scenes(folder: Path, sizes: list[tuple[int, int]], suffixes: list[str]) -> list[Path]:
    """RGB scenes of the given (height, width) sizes as PNG or JPEG (see tests/conftest.py: scene)."""
    rng = np.random.default_rng(7)
    paths = [folder / f"scene{i}{suffix}" for i, suffix in enumerate(suffixes)]
    for path, size in zip(paths, sizes, strict=True):
        save_image(path, scene(rng, size, [0, 1, 2])[0])
    return paths


def truncated(path: Path, source: Path) -> Path:
    """A copy of an image file cut after its first 60 bytes: PIL reads the header, then fails."""
    path.write_bytes(source.read_bytes()[:60])
    return path


def checkpoint_net(ckpt: Path, *overrides: str) -> torch.nn.Module:
    """The run's net with the checkpoint's weights, built in this process (to compare against)."""
    cfg = compose_config("train", *overrides)
    _, task = build(cfg)
    load_checkpoint(ckpt, task)
    return task.net.eval()


class UnservedTask(ClassificationTask):
    """A classification task that names no PredictionFiles: what a task predict cannot serve looks like."""

    prediction_files = Task.prediction_files
