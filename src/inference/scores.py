"""What predict writes for the tasks that answer a few numbers per input (a table row or an image), as the
columns of predictions.csv (src/inference/rows.py): regression in the targets' units, binary and multi-label
scores with their decisions at 0.5, and boxes in pixels of each original image (drawn with overlay=true)."""

from collections.abc import Callable
from pathlib import Path

import torch
from PIL import Image
from torch import Tensor
from torchvision.utils import draw_bounding_boxes

from src.inference.inputs import read_image
from src.inference.rows import CsvPredictions, number_cells


class RegressionPredictions(CsvPredictions):
    """predicted_<target> per target, in the target's units (the net's standardised outputs mapped back with the
    training targets' mean and std, which the checkpoint holds). options: predict (the task's), target_names."""

    @staticmethod
    def describe_outputs(num_outputs: int, class_names: list[str]) -> str:
        return (f"outputs (batch, {num_outputs}): the targets standardised; prediction = output * target_std + "
                "target_mean (model.json: target_names, target_mean, target_std)")  # fmt: skip

    def prediction_columns(self) -> list[str]:
        return [f"predicted_{name}" for name in self.options["target_names"]]

    def prediction_cells(self, logits: Tensor, sizes: list[tuple[int, int]]) -> list[list[str]]:
        predict: Callable[[Tensor], Tensor] = self.options["predict"]
        return number_cells(predict(logits))


class BinaryPredictions(CsvPredictions):
    """score (the probability of class_names[1], sigmoid of the logit) and predicted (the class at 0.5)."""

    @staticmethod
    def describe_outputs(num_outputs: int, class_names: list[str]) -> str:
        return (f"logits (batch, 1): sigmoid gives the probability of {class_names[1]!r}; > 0 (probability 0.5) "
                f"predicts it, else {class_names[0]!r}")  # fmt: skip

    def prediction_columns(self) -> list[str]:
        return ["score", "predicted"]

    def prediction_cells(self, logits: Tensor, sizes: list[tuple[int, int]]) -> list[list[str]]:
        scores = logits[:, 0].sigmoid().tolist()
        return [[f"{score:.6f}", self.class_names[int(score > 0.5)]] for score in scores]


class MultiLabelPredictions(CsvPredictions):
    """Per label <label>_score (sigmoid of its logit) and <label> (1 when the score is above 0.5, else 0)."""

    @staticmethod
    def describe_outputs(num_outputs: int, class_names: list[str]) -> str:
        return (f"logits (batch, {num_outputs}): one per label of class_names, independent; sigmoid gives each "
                "label's probability, > 0 (0.5) means present")  # fmt: skip

    def prediction_columns(self) -> list[str]:
        return [column for name in self.class_names for column in (f"{name}_score", name)]

    def prediction_cells(self, logits: Tensor, sizes: list[tuple[int, int]]) -> list[list[str]]:
        return [
            [cell for score in row for cell in (f"{score:.6f}", str(int(score > 0.5)))]
            for row in logits.sigmoid().tolist()
        ]


class BoxPredictions(CsvPredictions):
    """x0, y0, x1, y1: the box in pixels of the original image (x1, y1 exclusive); with overlay, also
    overlays/<name>.png: the box drawn on the original image. options: predict (the task's), overlay."""

    outputs = ("predictions.csv", "overlays")

    @staticmethod
    def describe_outputs(num_outputs: int, class_names: list[str]) -> str:
        return (
            "outputs (batch, 4): the box (x0, y0, x1, y1) standardised; box = output * target_std + "
            "target_mean gives fractions of the image's width and height (model.json: target_mean, target_std)"
        )

    def prediction_columns(self) -> list[str]:
        return ["x0", "y0", "x1", "y1"]

    def _pixels(self, logits: Tensor, sizes: list[tuple[int, int]]) -> Tensor:
        """(B, 4) boxes in pixels of each image's own (height, width)."""
        scale = torch.tensor([[width, height, width, height] for height, width in sizes], dtype=logits.dtype)
        return self.options["predict"](logits) * scale

    def prediction_cells(self, logits: Tensor, sizes: list[tuple[int, int]]) -> list[list[str]]:
        return [[f"{value:.1f}" for value in box] for box in self._pixels(logits, sizes).tolist()]

    def write(self, logits: Tensor, indices: list[int], paths: list[Path], names: list[str],
              sizes: list[tuple[int, int]]) -> None:  # fmt: skip
        super().write(logits, indices, paths, names, sizes)
        if not self.options.get("overlay"):
            return
        for box, path, name, size in zip(self._pixels(logits, sizes), paths, names, sizes, strict=True):
            image, _, _ = read_image(path, "RGB", size)
            corners = torch.cat([box[:2], torch.maximum(box[2:], box[:2])])  # an inverted box is drawn empty
            drawn = draw_bounding_boxes(image, corners[None], colors="red", width=max(1, min(size) // 64))
            target = self.folder / "overlays" / f"{name}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(drawn.permute(1, 2, 0).numpy()).save(target)

    def finish(self, world_size: int) -> str:
        written = super().finish(world_size)
        return f"{written}, boxes drawn in {self.folder / 'overlays'}" if self.options.get("overlay") else written
