"""What every pictures callback shares: where pictures go, and the fixed samples they show."""

import matplotlib

matplotlib.use("Agg")  # render to images, never to a window

from pathlib import Path

import matplotlib.pyplot as plt
import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.loggers import TensorBoardLogger
from torch import Tensor
from torch.utils.tensorboard import SummaryWriter


def tensorboard_writer(trainer: Trainer) -> SummaryWriter | None:
    """The run's TensorBoard writer on rank 0; None without a TensorBoard logger or on other ranks."""
    if not trainer.is_global_zero:
        return None
    return next((lg.experiment for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)), None)


def first_samples(trainer: Trainer, split: str, count: int) -> tuple[Tensor, Tensor]:
    """The first `count` samples of a split as stored: images uint8 (N, C, H, W) and their targets."""
    images, targets = trainer.datamodule.splits[split].tensors[:2]
    return images[:count], targets[:count]


def predict(task: LightningModule, trainer: Trainer, images: Tensor) -> Tensor:
    """The task's hard predictions for stored uint8 images, in eval mode, on the task's device, back on the CPU."""
    was_training = task.training
    task.eval()
    with torch.no_grad():
        predictions = task.predict(task(trainer.datamodule.preprocess(images.to(task.device))))
    task.train(was_training)
    return predictions.cpu()


def save_figure(figure: plt.Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100, bbox_inches="tight")
