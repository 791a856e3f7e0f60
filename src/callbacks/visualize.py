"""Pictures in TensorBoard: what the classifier predicts, where it errs, and what a CNN's kernels see."""

import matplotlib

matplotlib.use("Agg")  # render to images, never to a window

import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import TensorBoardLogger
from torch import Tensor
from torch.utils.tensorboard import SummaryWriter
from torchmetrics.classification import MulticlassConfusionMatrix
from torchvision.utils import make_grid


def _writer(trainer: Trainer) -> SummaryWriter | None:
    return next((lg.experiment for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)), None)


def _tile(maps: Tensor, nrow: int) -> Tensor:
    """(N, 1 or 3, h, w) -> one (3, H, W) image, each map stretched to [0, 1] on its own."""
    low = maps.amin(dim=(1, 2, 3), keepdim=True)
    high = maps.amax(dim=(1, 2, 3), keepdim=True)
    return make_grid((maps - low) / (high - low).clamp_min(1e-8), nrow=nrow, padding=1, pad_value=1.0)


class TensorBoardImages(Callback):
    """After each validation epoch: a grid of `num_samples` fixed validation images titled
    "predicted (true)", red where wrong; for nets with convolutions, the first layer's kernels and the feature
    maps they extract from the first image. After testing: the confusion matrix.

    Does nothing without a TensorBoard logger.
    """

    def __init__(self, num_samples: int = 32) -> None:
        self.num_samples = num_samples
        self.confusion: MulticlassConfusionMatrix | None = None

    def on_validation_epoch_end(self, trainer: Trainer, task: LightningModule) -> None:
        writer = _writer(trainer)
        if writer is None or trainer.sanity_checking or not trainer.is_global_zero:
            return
        datamodule = trainer.datamodule
        images, labels = datamodule.splits["val"].tensors
        images, labels = images[: self.num_samples], labels[: self.num_samples]
        first_conv = next((m for m in task.modules() if isinstance(m, nn.Conv2d)), None)
        feature_maps = []
        hook = first_conv.register_forward_hook(lambda *args: feature_maps.append(args[2])) if first_conv else None
        with torch.no_grad():
            predicted = task(datamodule.preprocess(images.to(task.device))).argmax(dim=1).cpu()
        if hook:
            hook.remove()
        step = trainer.global_step
        writer.add_figure(
            "val/predictions", self._prediction_grid(images, labels, predicted, datamodule.class_names), step
        )
        if first_conv is not None:
            kernels = first_conv.weight.detach().cpu()  # (out, in, k, k)
            kernels = kernels if kernels.shape[1] == 3 else kernels[:, :1]  # colour kernels as RGB, else channel 0
            kernels = F.interpolate(kernels, scale_factor=24 // kernels.shape[-1] or 1)  # 3x3 is too small to see
            writer.add_image("val/conv1_kernels", _tile(kernels, nrow=8), step)
            maps = feature_maps[0][0].detach().cpu().unsqueeze(1)  # first image: (out, h, w) -> (out, 1, h, w)
            writer.add_image("val/conv1_feature_maps", _tile(maps, nrow=8), step)

    @staticmethod
    def _prediction_grid(images: Tensor, labels: Tensor, predicted: Tensor, names: list[str]) -> plt.Figure:
        columns = 8
        rows = (len(images) + columns - 1) // columns
        figure, axes = plt.subplots(rows, columns, figsize=(columns * 1.6, rows * 1.9), squeeze=False)
        for ax in axes.flat:
            ax.axis("off")
        for ax, image, label, guess in zip(axes.flat, images, labels, predicted, strict=False):
            ax.imshow(image.permute(1, 2, 0).squeeze(-1), cmap="gray")
            ax.set_title(f"{names[guess]}\n({names[label]})", fontsize=7, color="green" if guess == label else "red")
        figure.tight_layout()
        return figure

    def on_test_epoch_start(self, trainer: Trainer, task: LightningModule) -> None:
        num_classes = trainer.datamodule.num_classes
        self.confusion = MulticlassConfusionMatrix(num_classes).to(task.device) if _writer(trainer) else None

    def on_test_batch_end(
        self,
        trainer: Trainer,
        task: LightningModule,
        outputs: dict[str, Tensor],
        batch: tuple[Tensor, Tensor],
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if self.confusion is not None:
            self.confusion.update(outputs["preds"], batch[1])

    def on_test_epoch_end(self, trainer: Trainer, task: LightningModule) -> None:
        if self.confusion is None:
            return
        matrix = self.confusion.compute()  # on every rank: under DDP this sums the ranks' counts
        if not trainer.is_global_zero:
            return
        names = trainer.datamodule.class_names
        figure, ax = self.confusion.plot(val=matrix, labels=names)
        figure.set_size_inches(1 + 0.6 * len(names), 1 + 0.6 * len(names))
        ax.set_title("test confusion matrix (rows: true, columns: predicted)")
        _writer(trainer).add_figure("test/confusion_matrix", figure, trainer.global_step)
