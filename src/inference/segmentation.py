"""What predict writes for a segmenter: a class-index PNG mask per image at its original size (and overlays)."""

from pathlib import Path
from typing import ClassVar

import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from src.callbacks.segmentation_images import overlay, palette
from src.inference.files import PredictionFiles
from src.inference.inputs import read_image


class MaskPredictions(PredictionFiles):
    """masks/<name>.png: palette PNGs at each image's original size whose pixel values are class indices (the
    logits are resized back bilinearly before the argmax), shown in the run's palette; with `overlay`, also
    overlays/<name>.png: the predicted classes painted over the original image (background left as it is).

    options: overlay (bool), colours (the data's class_colors or None: the pictures' fixed palette).
    """

    outputs: ClassVar[tuple[str, ...]] = ("masks", "overlays")

    @staticmethod
    def describe_outputs(num_outputs: int, class_names: list[str]) -> str:
        if num_outputs == 1:
            return ("logits (batch, 1, height, width): one raw score per pixel; > 0 means class_names[1], "
                    "else class_names[0]")  # fmt: skip
        return (f"logits (batch, {num_outputs}, height, width): a raw score per class and pixel, at the input's "
                "size; argmax over dim 1 gives each pixel's class index in class_names")  # fmt: skip

    def write(self, logits: Tensor, indices: list[int], paths: list[Path], names: list[str],
              sizes: list[tuple[int, int]]) -> None:  # fmt: skip
        """logits (B, C, H, W) at the training size -> a mask (and overlay) per image at its own (h, w)."""
        colours = palette(len(self.class_names), self.options.get("colours"))
        flat_palette = [value for colour in colours.tolist() for value in colour]
        for scores, path, name, size in zip(logits, paths, names, sizes, strict=True):
            resized = F.interpolate(scores[None], size=size, mode="bilinear", align_corners=False)[0]
            mask = (resized[0] > 0).long() if len(resized) == 1 else resized.argmax(dim=0)  # (h, w)
            target = self.folder / "masks" / f"{name}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            picture = Image.fromarray(mask.to(torch.uint8).numpy(), mode="P")
            picture.putpalette(flat_palette)
            picture.save(target)
            if self.options.get("overlay"):
                image, _, _ = read_image(path, "RGB", size)
                painted = overlay(image[None], mask[None], colours)[0].numpy()
                (self.folder / "overlays" / f"{name}.png").parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(painted).save(self.folder / "overlays" / f"{name}.png")

    def finish(self, world_size: int) -> str:
        written = f"masks in {self.folder / 'masks'}"
        return f"{written}, overlays in {self.folder / 'overlays'}" if self.options.get("overlay") else written
