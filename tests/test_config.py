"""Every option of every config group composes and builds, before any data is read."""

import functools
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from lightning.pytorch import Trainer
from omegaconf import DictConfig, OmegaConf

from src.run.build import build, build_trainer
from tests.conftest import CONF, compose_config

# `task` and `recipe` are no free choices: each data config picks its own (tested below with the data configs).
# `arm` is experiment=transfer_check's (tests/test_transfer_check.py runs its three).
GROUPS = sorted(
    d.name for d in CONF.iterdir() if d.is_dir() and d.name not in ("hydra", "paths", "task", "recipe", "arm")
)
OPTIONS = [(group, path.stem) for group in GROUPS for path in sorted((CONF / group).glob("*.yaml"))]
# Models that output a class per pixel are built on segmentation data; every other option on the default data.
SEGMENTATION_MODELS = {"unet", "cnn_fpn", "timm_fpn"}
# VAEs and their loss are built on generative data.
GENERATIVE = {("model", "vae_mlp"), ("model", "vae_conv"), ("loss", "elbo")}
# What an option needs from the command line before it builds (your own table: its file and target).
REQUIRED = {
    ("data", "table"): [
        "data.path=rows.csv",
        "data.target=y",
        "data.num_features=3",
        "data.class_names=[a,b]",
        "data.num_classes=2",
        "data.num_targets=1",
    ],
    # Your own images: what the files would say, given instead (the config check reads no file then).
    ("experiment", "transfer_check"): [
        "data.data_dir=photos",
        "data.class_names=[cat,dog]",
        "data.in_channels=3",
        "data.image_size=[32,32]",
    ],
    ("data", "image_folder"): [
        "data.data_dir=photos",
        "data.class_names=[cat,dog]",
        "data.in_channels=3",
        "data.image_size=[32,32]",
    ],
}


def test_every_group_has_options() -> None:
    assert {
        "model",
        "loss",
        "data",
        "trainer",
        "optimizer",
        "scheduler",
        "callbacks",
        "logger",
        "debug",
        "experiment",
    } <= set(GROUPS)
    assert {"mlp", "cnn"} <= {option for group, option in OPTIONS if group == "model"}


@pytest.fixture(scope="module")
def composed(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., DictConfig]:
    """compose_config writing to one folder, each composition once: the two tests below share the training
    configs of most options (read them, never change them)."""
    return functools.cache(functools.partial(compose_config, output_dir=tmp_path_factory.mktemp("outputs")))


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_option_composes_and_builds(group: str, option: str, composed: Callable[..., DictConfig]) -> None:
    data = ["data=fashion_seg"] if group == "model" and option in SEGMENTATION_MODELS else []
    data = ["data=fashion_mnist_binarized"] if (group, option) in GENERATIVE else data
    cfg = composed("train", f"{group}={option}", *data, *REQUIRED.get((group, option), []))
    datamodule, _ = build(cfg)  # data module, net, loss, optimiser and scheduler, each checked against the data
    assert not datamodule.splits  # and no file was read
    if cfg.trainer.accelerator == "gpu" and not torch.cuda.is_available():
        with pytest.raises(ValueError, match="No supported gpu backend found!; trainer=cpu runs anywhere"):
            build_trainer(cfg)  # what a user without a GPU is told (tested in CI); built for real on a GPU
        return
    assert isinstance(build_trainer(cfg), Trainer)
    if cfg.get("scheduler"):
        assert callable(instantiate(cfg.scheduler, _convert_="all")["scheduler"])


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_eval_accepts_every_option_a_training_run_took(
    group: str, option: str, composed: Callable[..., DictConfig]
) -> None:
    # Eval composes what training composed with the same option, but for what conf/eval.yaml changes.
    trained = OmegaConf.to_container(composed("train", f"{group}={option}"))
    cfg = composed("eval", f"{group}={option}", "ckpt_path=best.ckpt")
    evaluated = OmegaConf.to_container(cfg)
    assert evaluated.pop("ckpt_path") == "best.ckpt"
    assert evaluated["trainer"].pop("devices") == 1  # every test sample scored exactly once
    assert evaluated["callbacks"]["images"].pop("save_dir") == "${paths.output_dir}/predictions"
    trained["trainer"].pop("devices")
    if group != "logger":
        assert evaluated.pop("logger") == {}  # by default evaluation writes metrics.json, no event files
        trained.pop("logger")
    assert evaluated == trained


@pytest.mark.parametrize("model", ["mlp", "cnn"])
@pytest.mark.parametrize("data", ["fashion_mnist", "mnist", "cifar10", "digits"])
def test_model_takes_its_shapes_from_the_data(model: str, data: str, tmp_path: Path) -> None:
    cfg = compose_config("train", f"model={model}", f"data={data}", output_dir=tmp_path)
    assert cfg.model.in_channels == cfg.data.in_channels and cfg.model.num_classes == cfg.data.num_classes
    assert list(cfg.model.image_size) == list(cfg.data.image_size)


def test_eval_config_requires_a_checkpoint(tmp_path: Path) -> None:
    assert OmegaConf.is_missing(compose_config("eval", output_dir=tmp_path), "ckpt_path")


def test_monitor_is_set_once_and_interpolated(tmp_path: Path) -> None:
    cfg = compose_config(
        "train", "monitor=val/loss", "monitor_mode=min", "callbacks=early_stopping", output_dir=tmp_path
    )
    assert cfg.callbacks.model_checkpoint.monitor == "val/loss"
    assert cfg.callbacks.early_stopping.mode == "min"


@pytest.mark.parametrize("data", ["fashion_seg", "fashion_seg_binary", "folder", "voc", "oxford_pets"])
def test_segmentation_data_brings_its_task_model_loss_metric_and_pictures(data: str, tmp_path: Path) -> None:
    cfg = compose_config("train", f"data={data}", output_dir=tmp_path)
    assert cfg.task._target_ == "src.tasks.SegmentationTask"
    assert cfg.model._target_ == "src.models.UNet" and cfg.loss._target_ == "src.losses.WeightedSumLoss"
    assert cfg.monitor == cfg.callbacks.model_checkpoint.monitor == "val/miou"
    assert cfg.callbacks.images._target_ == "src.callbacks.SegmentationImages"
    assert cfg.loss.losses.cce.ignore_index == cfg.data.ignore_index  # the loss skips the data's unlabelled pixels


def test_what_the_command_line_says_beats_what_the_task_brings(tmp_path: Path) -> None:
    cfg = compose_config("train", "data=fashion_seg", "loss=dice", "model=cnn_fpn", output_dir=tmp_path)
    assert cfg.loss._target_ == "src.losses.DiceLoss" and cfg.model._target_ == "src.models.EncoderDecoder"
    classification = compose_config("train", output_dir=tmp_path)
    assert classification.task._target_ == "src.tasks.ClassificationTask" and classification.monitor == "val/acc"


def test_every_task_is_chosen_by_some_data_config() -> None:
    chosen = {"classification"} | {
        line.split(":")[-1].strip()
        for path in (CONF / "data").glob("*.yaml")
        for line in path.read_text().splitlines()
        if "override /task" in line
    }
    assert chosen == {path.stem for path in (CONF / "task").glob("*.yaml")}
