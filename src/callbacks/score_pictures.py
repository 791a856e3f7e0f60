"""Pictures of a regressor, a box regressor, a binary and a multi-label classifier, for TensorBoard."""

from pathlib import Path

import matplotlib.pyplot as plt
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from torch import Tensor
from torchmetrics.classification import BinaryROC, MultilabelAveragePrecision
from torchvision.io import write_png
from torchvision.utils import draw_bounding_boxes, make_grid

from src.callbacks.pictures import first_samples, predict, save_figure, tensorboard_writer


class RegressionPictures(Callback):
    """After each validation epoch: predicted against true values of the first `num_samples` validation samples
    with the y = x line (`val/predicted_vs_true`, first target), and their residuals as a histogram
    (`val/residuals`, every target), in the targets' units. With `save_dir` (src.eval sets it), the same
    picture of the test samples as predicted_vs_true.png there after testing."""

    def __init__(self, num_samples: int = 512, save_dir: str | None = None) -> None:
        self.num_samples = num_samples
        self.save_dir = Path(save_dir) if save_dir else None

    def scatter(self, trainer: Trainer, task: LightningModule, split: str) -> tuple[plt.Figure, Tensor]:
        """-> the predicted-against-true figure of a split's first samples, and their residuals (N, T)."""
        inputs, targets = first_samples(trainer, split, self.num_samples)
        predicted = predict(task, trainer, inputs)
        true, guess = targets[:, 0].float(), predicted[:, 0]
        figure, ax = plt.subplots(figsize=(4, 4))
        ax.scatter(true, guess, s=8, alpha=0.6)
        low, high = float(min(true.min(), guess.min())), float(max(true.max(), guess.max()))
        ax.plot([low, high], [low, high], color="black", linewidth=1, label="y = x")
        ax.set(xlabel="true", ylabel="predicted", title=f"{split}, epoch {trainer.current_epoch}")
        ax.legend(loc="upper left")
        return figure, predicted - targets.float()

    def on_validation_epoch_end(self, trainer: Trainer, task: LightningModule) -> None:
        writer = tensorboard_writer(trainer)
        if writer is None or trainer.sanity_checking:
            return
        figure, residuals = self.scatter(trainer, task, "val")
        writer.add_figure("val/predicted_vs_true", figure, trainer.global_step)
        writer.add_histogram("val/residuals", residuals, trainer.global_step)

    def on_test_epoch_end(self, trainer: Trainer, task: LightningModule) -> None:
        if self.save_dir and trainer.is_global_zero:
            figure, _ = self.scatter(trainer, task, "test")
            save_figure(figure, self.save_dir / "predicted_vs_true.png")
            plt.close(figure)


class TestOutputs(Callback):
    """Keeps the test split's predictions and targets, batch by batch, for pictures drawn at the end of testing."""

    def __init__(self, save_dir: str | None = None) -> None:
        self.outputs: list[tuple[Tensor, Tensor]] = []
        self.save_dir = Path(save_dir) if save_dir else None

    def publish(self, trainer: Trainer, tag: str, figure: plt.Figure) -> None:
        """To TensorBoard (when it logs) and, with `save_dir`, as <name>.png there; then closed."""
        writer = tensorboard_writer(trainer)
        if writer is not None:
            writer.add_figure(tag, figure, trainer.global_step, close=False)
        if self.save_dir and trainer.is_global_zero:
            save_figure(figure, self.save_dir / f"{tag.split('/')[-1]}.png")
        plt.close(figure)

    def on_test_epoch_start(self, trainer: Trainer, task: LightningModule) -> None:
        self.outputs = []

    def on_test_batch_end(
        self,
        trainer: Trainer,
        task: LightningModule,
        outputs: dict[str, Tensor],
        batch: tuple[Tensor, Tensor],
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        self.outputs.append((outputs["preds"].cpu(), batch[1].cpu()))

    def collected(self) -> tuple[Tensor, Tensor]:
        """-> (predictions, targets) of the whole split, concatenated."""
        predictions, targets = (torch.cat(parts) for parts in zip(*self.outputs, strict=True))
        return predictions, targets


class BinaryPictures(TestOutputs):
    """After testing: TensorBoard's precision-recall curve (`test/pr_curve`), the ROC curve (`test/roc`) and a
    reliability diagram (`test/reliability`: per bin of predicted probability, the fraction that is class 1)."""

    def __init__(self, bins: int = 10, save_dir: str | None = None) -> None:
        super().__init__(save_dir)
        self.bins = bins

    def on_test_epoch_end(self, trainer: Trainer, task: LightningModule) -> None:
        if not self.outputs or not trainer.is_global_zero:
            return
        probabilities, labels = self.collected()  # (N,), (N,)
        if (writer := tensorboard_writer(trainer)) is not None:
            writer.add_pr_curve("test/pr_curve", labels, probabilities, trainer.global_step)
        roc = BinaryROC()
        self.publish(trainer, "test/roc", roc.plot(roc(probabilities, labels), score=True)[0])
        self.publish(trainer, "test/reliability", self.reliability(probabilities, labels))

    def reliability(self, probabilities: Tensor, labels: Tensor) -> plt.Figure:
        """Fraction of class 1 against mean predicted probability per equal-width bin; a calibrated net is on y = x."""
        bins = (probabilities * self.bins).long().clamp(max=self.bins - 1)
        counts = torch.bincount(bins, minlength=self.bins)
        kept = counts > 0
        mean = torch.bincount(bins, probabilities, self.bins)[kept] / counts[kept]
        positive = torch.bincount(bins, labels.float(), self.bins)[kept] / counts[kept]
        figure, ax = plt.subplots(figsize=(4, 4))
        ax.plot([0, 1], [0, 1], color="black", linewidth=1, label="calibrated")
        ax.plot(mean, positive, marker="o", label="net")
        ax.set(xlabel="mean predicted probability", ylabel="fraction of class 1", title="test reliability")
        ax.legend(loc="upper left")
        return figure


class MultiLabelPictures(TestOutputs):
    """After each validation epoch: the first `num_samples` validation images captioned with their true and
    predicted label sets (`val/predictions`; green when they agree). After testing: each label's average precision
    as a bar chart (`test/ap_per_label`)."""

    def __init__(self, num_samples: int = 8, save_dir: str | None = None) -> None:
        super().__init__(save_dir)
        self.num_samples = num_samples

    def on_validation_epoch_end(self, trainer: Trainer, task: LightningModule) -> None:
        writer = tensorboard_writer(trainer)
        if writer is None or trainer.sanity_checking:
            return
        images, labels = first_samples(trainer, "val", self.num_samples)
        present = predict(task, trainer, images) > 0.5
        names = trainer.datamodule.class_names
        figure, axes = plt.subplots(1, len(images), figsize=(2.2 * len(images), 2.8), squeeze=False)
        for ax, image, truth, guess in zip(axes[0], images, labels.bool(), present, strict=True):
            ax.imshow(image.permute(1, 2, 0).squeeze(-1), cmap="gray")
            ax.axis("off")
            caption = [", ".join(n for n, on in zip(names, row, strict=True) if on) or "-" for row in (guess, truth)]
            color = "green" if torch.equal(truth, guess) else "red"
            ax.set_title(f"{caption[0]}\n({caption[1]})", fontsize=6, color=color)
        figure.suptitle("predicted (true) labels", fontsize=8)
        writer.add_figure("val/predictions", figure, trainer.global_step)

    def on_test_epoch_end(self, trainer: Trainer, task: LightningModule) -> None:
        if not self.outputs or not trainer.is_global_zero:
            return
        probabilities, labels = self.collected()  # (N, C), (N, C)
        names = trainer.datamodule.class_names
        precision = MultilabelAveragePrecision(len(names), average=None)(probabilities, labels.long())
        figure, ax = plt.subplots(figsize=(1 + 0.5 * len(names), 3))
        ax.bar(range(len(names)), precision.numpy())
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=7)
        ax.set(ylim=(0, 1), ylabel="average precision", title=f"test AP per label (mean {precision.nanmean():.3f})")
        self.publish(trainer, "test/ap_per_label", figure)


class BoxPictures(Callback):
    """After each validation epoch: the first `num_samples` validation canvases with their true box (green) and
    the predicted one (red), as one image grid (`val/boxes`)."""

    def __init__(self, num_samples: int = 8, save_dir: str | None = None) -> None:
        self.num_samples = num_samples
        self.save_dir = Path(save_dir) if save_dir else None

    def on_validation_epoch_end(self, trainer: Trainer, task: LightningModule) -> None:
        writer = tensorboard_writer(trainer)
        if writer is not None and not trainer.sanity_checking:
            writer.add_image("val/boxes", self.grid(trainer, task, "val"), trainer.global_step)

    def on_test_epoch_end(self, trainer: Trainer, task: LightningModule) -> None:
        if self.save_dir and trainer.is_global_zero:
            self.save_dir.mkdir(parents=True, exist_ok=True)
            write_png(self.grid(trainer, task, "test"), str(self.save_dir / "boxes.png"))

    def grid(self, trainer: Trainer, task: LightningModule, split: str) -> Tensor:
        """-> uint8 (3, H', W'): a split's first canvases with their true and predicted boxes."""
        images, boxes = first_samples(trainer, split, self.num_samples)  # uint8 (N, 1, H, W), (N, 4) fractions
        height, width = images.shape[2:]
        scale = torch.tensor([width, height, width, height])
        predicted = predict(task, trainer, images).clamp(0, 1) * scale
        predicted[:, 2:] = torch.maximum(predicted[:, 2:], predicted[:, :2])  # a box the drawing accepts
        drawn = [
            draw_bounding_boxes(image.expand(3, -1, -1), torch.stack([true * scale, guess]), colors=["lime", "red"])
            for image, true, guess in zip(images, boxes, predicted, strict=True)
        ]
        return make_grid(drawn, nrow=8, padding=2, pad_value=255)
