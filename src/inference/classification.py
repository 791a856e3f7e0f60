"""What predict writes for a classifier: predictions.csv, a row per image with its label, probability and top-k."""

import torch
from torch import Tensor

from src.inference.rows import CsvPredictions


class ClassPredictions(CsvPredictions):
    """predictions.csv: path, label, probability (softmax), then top2_label, top2_probability, ... up to `top_k`,
    in the order of the inputs. Each rank writes its share to predictions.rank<r>.csv; `finish` merges them."""

    @staticmethod
    def describe_outputs(num_outputs: int, class_names: list[str]) -> str:
        return (f"logits (batch, {num_outputs}): one raw score per class; softmax over dim 1 gives the "
                "probabilities, argmax the index of the predicted class in class_names")  # fmt: skip

    def _top_k(self) -> int:
        return min(int(self.options.get("top_k", 3)), len(self.class_names))

    def prediction_columns(self) -> list[str]:
        ranked = [name for k in range(2, self._top_k() + 1) for name in (f"top{k}_label", f"top{k}_probability")]
        return ["label", "probability", *ranked]

    def prediction_cells(self, logits: Tensor, sizes: list[tuple[int, int]]) -> list[list[str]]:
        """logits (B, num_classes) -> per image the top-k (label, probability) pairs, most probable first."""
        probabilities, classes = torch.softmax(logits, dim=1).topk(self._top_k(), dim=1)
        return [
            [value for c, p in zip(ranked, chances, strict=True) for value in (self.class_names[c], f"{p:.6f}")]
            for ranked, chances in zip(classes.tolist(), probabilities.tolist(), strict=True)
        ]
