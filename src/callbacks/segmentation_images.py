"""Pictures of a segmenter: input, true and predicted masks over fixed validation images, and per-class IoU."""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from matplotlib.patches import Patch
from PIL import Image
from torch import Tensor

from src.callbacks.pictures import first_samples, predict, tensorboard_writer

IGNORED_COLOUR = (255, 255, 255)


def palette(num_classes: int, colours: list | None = None) -> Tensor:
    """(num_classes, 3) uint8 colours: the data's own, else black for class 0 and tab20's for the rest."""
    if colours is not None:
        return torch.tensor([list(colour) for colour in colours], dtype=torch.uint8)
    tab20 = [tuple(round(255 * c) for c in plt.get_cmap("tab20")(i)[:3]) for i in range(20)]
    return torch.tensor([(0, 0, 0)] + [tab20[i % 20] for i in range(num_classes - 1)], dtype=torch.uint8)


def overlay(images: Tensor, masks: Tensor, colours: Tensor, background: int | None = 0) -> Tensor:
    """images uint8 (N, C, H, W), masks (N, H, W) class indices -> RGB uint8 (N, H, W, 3): classes painted over
    the image (background left as it is), pixels outside the palette (ignored) white."""
    rgb = images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images[:, :3]
    rgb = rgb.permute(0, 2, 3, 1).float()  # (N, H, W, 3)
    known = masks < len(colours)
    painted = colours[masks.clamp_max(len(colours) - 1).long()].float()
    show = known if background is None else known & (masks != background)
    blended = torch.where(show[..., None], 0.4 * rgb + 0.6 * painted, rgb)
    return torch.where(known[..., None], blended, torch.tensor(IGNORED_COLOUR, dtype=torch.float)).to(torch.uint8)


def mask_figure(images: Tensor, truth: Tensor, predicted: Tensor, colours: Tensor, names: list[str]) -> plt.Figure:
    """One column per image; rows: input, truth and prediction overlays, wrong pixels in red; a colour legend."""
    errors = torch.zeros_like(truth)
    errors[(predicted != truth) & (truth < len(colours))] = 1  # class 1 of a red/black palette
    red = torch.tensor([(0, 0, 0), (230, 30, 30)], dtype=torch.uint8)
    rows = {
        "input": images.expand(-1, 3, -1, -1).permute(0, 2, 3, 1)
        if images.shape[1] == 1
        else images.permute(0, 2, 3, 1),
        "truth": overlay(images, truth, colours),
        "prediction": overlay(images, predicted, colours),
        "errors": overlay(images, errors, red),
    }
    columns = len(images)
    figure, axes = plt.subplots(len(rows), columns, figsize=(1.6 * columns, 1.6 * len(rows) + 0.8), squeeze=False)
    for row, (title, pictures) in zip(axes, rows.items(), strict=True):
        row[0].set_ylabel(title, fontsize=8)
        for ax, picture in zip(row, pictures, strict=True):
            ax.imshow(picture.numpy())
            ax.set_xticks([])
            ax.set_yticks([])
    legend = [Patch(color=np.array(c.tolist()) / 255, label=n) for c, n in zip(colours, names, strict=False)]
    figure.legend(handles=legend, loc="lower center", ncol=min(len(legend), 6), fontsize=7, frameon=False)
    figure.tight_layout(rect=(0, 0.12, 1, 1))
    return figure


def save_masks(folder: Path, images: Tensor, truth: Tensor, predicted: Tensor, colours: Tensor) -> None:
    """For each sample: NNN_input.png, and NNN_truth.png / NNN_prediction.png as palette PNGs: pixel values are
    class indices (usable as masks by data=folder), shown in the palette's colours."""
    folder.mkdir(parents=True, exist_ok=True)
    flat_palette = [value for colour in colours.tolist() for value in colour]
    for index, (image, true, guess) in enumerate(zip(images, truth, predicted, strict=True)):
        Image.fromarray(image.permute(1, 2, 0).squeeze(-1).numpy()).save(folder / f"{index:03d}_input.png")
        for name, mask in (("truth", true), ("prediction", guess)):
            picture = Image.fromarray(mask.to(torch.uint8).numpy(), mode="P")
            picture.putpalette(flat_palette)
            picture.save(folder / f"{index:03d}_{name}.png")


class SegmentationImages(Callback):
    """After each validation epoch, to TensorBoard: `num_samples` fixed validation images with their true and
    predicted masks overlaid in a fixed colour per class (the data's `class_colors`, else a fixed palette), and
    the wrong pixels. After testing: a bar chart of the per-class IoU. With `save_dir` (src.eval sets it), the
    first test images and their true and predicted masks are written there as PNG files.
    """

    def __init__(self, num_samples: int = 8, save_dir: str | None = None) -> None:
        self.num_samples = num_samples
        self.save_dir = Path(save_dir) if save_dir else None

    def _colours(self, trainer: Trainer) -> Tensor:
        datamodule = trainer.datamodule
        return palette(datamodule.num_classes, getattr(datamodule, "class_colors", None))

    def on_validation_epoch_end(self, trainer: Trainer, task: LightningModule) -> None:
        writer = tensorboard_writer(trainer)
        if writer is None or trainer.sanity_checking:
            return
        images, truth = first_samples(trainer, "val", self.num_samples)
        figure = mask_figure(images, truth, predict(task, trainer, images), self._colours(trainer),
                             trainer.datamodule.class_names)  # fmt: skip
        writer.add_figure("val/segmentation", figure, trainer.global_step)

    def on_test_end(self, trainer: Trainer, task: LightningModule) -> None:
        writer = tensorboard_writer(trainer)
        if writer is not None:
            names = trainer.datamodule.class_names
            iou = [float(trainer.callback_metrics.get(f"test/iou/{n.replace('/', '-')}", float("nan"))) for n in names]
            figure, ax = plt.subplots(figsize=(1 + 0.5 * len(names), 3.5))
            ax.bar(range(len(names)), iou, color=self._colours(trainer).numpy() / 255, edgecolor="grey")
            ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
            ax.set_ylim(0, 1)
            ax.set_title(f"test IoU per class (mean {float(trainer.callback_metrics.get('test/miou', np.nan)):.3f})")
            figure.tight_layout()
            writer.add_figure("test/iou_per_class", figure, trainer.global_step)
        if self.save_dir is not None and trainer.is_global_zero:
            images, truth = first_samples(trainer, "test", self.num_samples)
            save_masks(self.save_dir, images, truth, predict(task, trainer, images), self._colours(trainer))
