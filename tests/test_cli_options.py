"""Every model trains for real (not fast_dev_run, where Lightning swaps the loggers and checkpoints out) and
writes checkpoints and pictures; the debug, callbacks, logger and test options run as shipped."""

import csv
import json
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.conftest import CONF, run_cli, write_mnist_like

SHORT = ["trainer.max_epochs=1", "trainer.limit_train_batches=3", "trainer.limit_val_batches=2",
         "trainer.limit_test_batches=2", "trainer.log_every_n_steps=1"]  # fmt: skip
SEGMENTATION_MODELS = ["unet", "cnn_fpn", "timm_fpn"]
PRETRAINED_MODELS = ["resnet18", "mobilenet_v3_small", "efficientnet_lite0"]  # random weights here: no download
GENERATIVE_MODELS = ["vae_mlp", "vae_conv"]


def image_tags(run: Path) -> set[str]:
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    return set(events.Tags()["images"])


def test_every_model_option_is_tested_here() -> None:
    classification = {"mlp", "cnn", *PRETRAINED_MODELS}
    tested = classification | set(SEGMENTATION_MODELS) | set(GENERATIVE_MODELS)
    assert tested == {path.stem for path in (CONF / "model").glob("*.yaml")}


def test_classifiers_train_and_write_checkpoints_and_pictures(tmp_path: Path) -> None:
    run_cli("train", "-m", "data=digits", "model=mlp,cnn", *SHORT, f"hydra.sweep.dir={tmp_path}")
    for job, conv in (("0_model=mlp", False), ("1_model=cnn", True)):
        assert {"best.ckpt", "last.ckpt"} <= {p.name for p in (tmp_path / job / "checkpoints").iterdir()}
        tags = image_tags(tmp_path / job)
        assert {"val/predictions", "test/confusion_matrix"} <= tags
        assert ("val/conv1_kernels" in tags) == conv  # an MLP has no kernels to show


def test_pretrained_classifiers_train_on_grey_images_and_write_checkpoints(tmp_path: Path) -> None:
    run_cli("train", "-m", "data=digits", f"model={','.join(PRETRAINED_MODELS)}", "++model.input_size=32",
            "data.batch_size=8", *SHORT, f"hydra.sweep.dir={tmp_path}")  # fmt: skip
    for number, model in enumerate(PRETRAINED_MODELS):
        job = tmp_path / f"{number}_model={model}"
        assert (job / "checkpoints" / "best.ckpt").is_file()
        assert "val/predictions" in image_tags(job)


def test_segmenters_train_and_write_checkpoints_and_pictures(tmp_path: Path) -> None:
    items = write_mnist_like(tmp_path / "items", n_train=200, n_test=50)
    run_cli("train", "-m", "data=fashion_seg", f"model={','.join(SEGMENTATION_MODELS)}", f"paths.data_dir={items}",
            "data.train_size=96", "data.val_size=32", "data.test_size=32", "data.canvas_size=[32,32]",
            "data.batch_size=16", *SHORT, f"hydra.sweep.dir={tmp_path / 'sweep'}")  # fmt: skip
    for number, model in enumerate(SEGMENTATION_MODELS):
        job = tmp_path / "sweep" / f"{number}_model={model}"
        assert (job / "checkpoints" / "best.ckpt").is_file()
        assert {"val/segmentation", "test/iou_per_class"} <= image_tags(job)


def test_vaes_train_and_write_checkpoints_and_pictures(tmp_path: Path) -> None:
    items = write_mnist_like(tmp_path / "items", n_train=200, n_test=50)
    run_cli("train", "-m", "data=fashion_mnist_binarized", f"model={','.join(GENERATIVE_MODELS)}", "data.val_size=50",
            f"paths.data_dir={items}", "task.iw_samples=2", *SHORT, f"hydra.sweep.dir={tmp_path}/sweep")  # fmt: skip
    for number, model in enumerate(GENERATIVE_MODELS):
        job = tmp_path / "sweep" / f"{number}_model={model}"
        assert (job / "checkpoints" / "best.ckpt").is_file()
        assert {"val/reconstructions", "val/samples", "val/interpolations"} <= image_tags(job)


def test_debug_options_run(tmp_path: Path) -> None:
    run_cli("train", "-m", "data=digits", "model=mlp", "debug=overfit,limit", "trainer.max_epochs=2",
            f"hydra.sweep.dir={tmp_path}")  # fmt: skip
    events = EventAccumulator(str(tmp_path / "0_debug=overfit" / "tensorboard"))
    events.Reload()
    losses = [event.value for event in events.Scalars("train/loss")]
    assert losses[-1] < losses[0]  # four batches, seen again and again
    status = json.loads((tmp_path / "1_debug=limit" / "status.json").read_text())
    assert status["status"] == "completed" and status["epochs"] == 2


def test_early_stopping_csv_logger_and_no_test_run(tmp_path: Path) -> None:
    run_cli("train", "data=digits", "model=mlp", "callbacks=early_stopping", "callbacks.early_stopping.patience=1",
            "callbacks.early_stopping.min_delta=0.5", "logger=csv", "test=false", "trainer.max_epochs=20",
            f"hydra.run.dir={tmp_path}")  # fmt: skip
    with open(tmp_path / "csv" / "metrics.csv") as file:
        epochs = {row["epoch"] for row in csv.DictReader(file) if row.get("val/acc")}
    assert len(epochs) == 2  # no epoch improves val/acc by 0.5, so the second one stops the run
    assert not (tmp_path / "metrics.json").exists() and not (tmp_path / "tensorboard").exists()
