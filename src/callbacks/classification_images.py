"""Pictures of a classifier: what it predicts, where it errs, and what a CNN's kernels see."""

from pathlib import Path

import matplotlib.pyplot as plt
import torch.nn as nn
import torch.nn.functional as F
from lightning.pytorch import Callback, LightningModule, Trainer
from torch import Tensor
from torchmetrics.classification import MulticlassConfusionMatrix
from torchvision.utils import make_grid

from src.callbacks.pictures import first_samples, predict, save_figure, tensorboard_writer


def _tile(maps: Tensor, nrow: int) -> Tensor:
    """(N, 1 or 3, h, w) -> one (3, H, W) image, each map stretched to [0, 1] on its own."""
    low = maps.amin(dim=(1, 2, 3), keepdim=True)
    high = maps.amax(dim=(1, 2, 3), keepdim=True)
    return make_grid((maps - low) / (high - low).clamp_min(1e-8), nrow=nrow, padding=1, pad_value=1.0)


def prediction_grid(images: Tensor, labels: Tensor, predicted: Tensor, names: list[str]) -> plt.Figure:
    """Images (N, C, H, W) titled "predicted (true)", green when right, red when wrong; 8 per row."""
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


class ClassificationImages(Callback):
    """After each validation epoch, to TensorBoard: `num_samples` fixed validation images titled
    "predicted (true)"; for nets with convolutions, the first layer's kernels and the feature maps they extract
    from the first image. After testing: the confusion matrix. With `save_dir` (src.eval sets it), the test
    predictions and the confusion matrix are also written there as PNG files.
    """

    def __init__(self, num_samples: int = 32, save_dir: str | None = None) -> None:
        self.num_samples = num_samples
        self.save_dir = Path(save_dir) if save_dir else None
        self.confusion: MulticlassConfusionMatrix | None = None

    def on_validation_epoch_end(self, trainer: Trainer, task: LightningModule) -> None:
        writer = tensorboard_writer(trainer)
        if writer is None or trainer.sanity_checking:
            return
        images, labels = first_samples(trainer, "val", self.num_samples)
        if images.ndim != 4:  # a table's rows: nothing to draw until the confusion matrix at test
            return
        first_conv = next((m for m in task.modules() if isinstance(m, nn.Conv2d)), None)
        feature_maps = []
        hook = first_conv.register_forward_hook(lambda *args: feature_maps.append(args[2])) if first_conv else None
        predicted = predict(task, trainer, images)
        if hook:
            hook.remove()
        step = trainer.global_step
        names = trainer.datamodule.class_names
        writer.add_figure("val/predictions", prediction_grid(images, labels, predicted, names), step)
        if first_conv is not None:
            kernels = first_conv.weight.detach().cpu()  # (out, in, k, k)
            kernels = kernels if kernels.shape[1] == 3 else kernels[:, :1]  # colour kernels as RGB, else channel 0
            kernels = F.interpolate(kernels, scale_factor=24 // kernels.shape[-1] or 1)  # 3x3 is too small to see
            writer.add_image("val/conv1_kernels", _tile(kernels, nrow=8), step)
        if feature_maps:  # a compiled net runs no forward hooks
            maps = feature_maps[0][0].detach().cpu().unsqueeze(1)  # first image: (out, h, w) -> (out, 1, h, w)
            writer.add_image("val/conv1_feature_maps", _tile(maps, nrow=8), step)

    def on_test_epoch_start(self, trainer: Trainer, task: LightningModule) -> None:
        self.confusion = MulticlassConfusionMatrix(trainer.datamodule.num_classes).to(task.device)

    def on_test_batch_end(
        self,
        trainer: Trainer,
        task: LightningModule,
        outputs: dict[str, Tensor],
        batch: tuple[Tensor, Tensor],
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        self.confusion.update(outputs["preds"], batch[1])

    def on_test_epoch_end(self, trainer: Trainer, task: LightningModule) -> None:
        matrix = self.confusion.compute()  # on every rank: under DDP this sums the ranks' counts
        writer = tensorboard_writer(trainer)
        if not trainer.is_global_zero or (writer is None and self.save_dir is None):
            return
        names = trainer.datamodule.class_names
        figure, ax = self.confusion.plot(val=matrix, labels=names)
        figure.set_size_inches(1 + 0.6 * len(names), 1 + 0.6 * len(names))
        ax.set_title("test confusion matrix (rows: true, columns: predicted)")
        images, labels = first_samples(trainer, "test", self.num_samples)
        if self.save_dir:
            save_figure(figure, self.save_dir / "confusion_matrix.png")
        if self.save_dir and images.ndim == 4:
            grid = prediction_grid(images, labels, predict(task, trainer, images), names)
            save_figure(grid, self.save_dir / "predictions.png")
            plt.close(grid)
        if writer is not None:
            writer.add_figure("test/confusion_matrix", figure, trainer.global_step)
        plt.close(figure)
