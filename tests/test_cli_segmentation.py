"""A real, short segmentation run through the CLI: loss falls, pictures and per-class IoU land in TensorBoard,
and src.eval re-scores the checkpoint from the run's own config and writes predicted masks as PNG.

Items come from small IDX files in Fashion-MNIST's format whose brightness encodes the class, so a tiny U-Net
learns them in seconds. In a file of its own: `make test` hands whole files to pytest-xdist workers.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.conftest import run_cli, write_mnist_like

SMALL = ["data.train_size=512", "data.val_size=64", "data.test_size=64", "data.canvas_size=[32,32]",
         "model.base_channels=8", "model.depth=2", "data.batch_size=32"]  # fmt: skip


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = write_mnist_like(tmp_path_factory.mktemp("items"), n_train=400, n_test=100)
    run = tmp_path_factory.mktemp("run")
    run_cli("train", "data=fashion_seg", *SMALL, f"paths.data_dir={data_dir}", "trainer.max_epochs=4",
            "trainer.log_every_n_steps=4", f"hydra.run.dir={run}")  # fmt: skip
    return run


def scalars(run: Path, tag: str) -> list[float]:
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    return [event.value for event in events.Scalars(tag)]


def test_segmentation_training_lowers_the_loss_and_learns_the_classes(trained_run: Path) -> None:
    losses = scalars(trained_run, "train/loss")
    assert np.mean(losses[-3:]) < 0.85 * np.mean(losses[:3])
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert metrics["test/miou"] > 0.2 and metrics["test/foreground_iou"] > 0.8  # 11 classes: guessing scores < 0.1
    assert {"test/mdice", "test/pixel_acc", "test/foreground_iou", "test/iou/background", "test/iou/Bag"} <= set(
        metrics
    )


def test_pictures_and_per_class_iou_are_in_tensorboard(trained_run: Path) -> None:
    events = EventAccumulator(str(trained_run / "tensorboard"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    assert len(events.Images("val/segmentation")) == 4  # one overlay figure per validation epoch
    assert len(events.Images("test/iou_per_class")) == 1
    assert {"val/miou", "val/miou_best", "hp_metric", "test/iou/Trouser"} <= set(events.Tags()["scalars"])


def test_eval_from_the_run_alone_rescores_and_writes_masks(trained_run: Path, tmp_path: Path) -> None:
    # No model=, data= or data_dir overrides: the run's saved config says what to rebuild.
    run_cli("eval", f"ckpt_path={trained_run / 'checkpoints' / 'best.ckpt'}", f"hydra.run.dir={tmp_path}")
    trained = json.loads((trained_run / "metrics.json").read_text())
    rescored = json.loads((tmp_path / "metrics.json").read_text())
    assert rescored["test/miou"] == pytest.approx(trained["test/miou"], abs=1e-6)
    prediction = Image.open(tmp_path / "predictions" / "000_prediction.png")
    assert prediction.mode == "P" and prediction.size == (32, 32)  # class indices, shown in the palette's colours
    assert np.array(prediction).max() < 11
    assert (tmp_path / "predictions" / "000_input.png").is_file()
