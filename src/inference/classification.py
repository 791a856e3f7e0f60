"""What predict writes for a classifier: predictions.csv, a row per image with its label, probability and top-k."""

import csv
from pathlib import Path
from typing import ClassVar

import torch
from torch import Tensor

from src.inference.files import PredictionFiles


class ClassPredictions(PredictionFiles):
    """predictions.csv: path, label, probability (softmax), then top2_label, top2_probability, ... up to `top_k`,
    in the order of the inputs. Each rank writes its share to predictions.rank<r>.csv; `finish` merges them."""

    outputs: ClassVar[tuple[str, ...]] = ("predictions.csv",)

    @staticmethod
    def describe_outputs(num_outputs: int, class_names: list[str]) -> str:
        return (f"logits (batch, {num_outputs}): one raw score per class; softmax over dim 1 gives the "
                "probabilities, argmax the index of the predicted class in class_names")  # fmt: skip

    def _shard(self, rank: int) -> Path:
        return self.folder / f"predictions.rank{rank}.csv"

    def write(self, logits: Tensor, indices: list[int], paths: list[Path], names: list[str],
              sizes: list[tuple[int, int]]) -> None:  # fmt: skip
        """logits (B, num_classes) -> a row per image, with its input index first (dropped when merging)."""
        top_k = min(int(self.options.get("top_k", 3)), len(self.class_names))
        probabilities, classes = torch.softmax(logits, dim=1).topk(top_k, dim=1)
        shard = self._shard(self.rank)
        header = not shard.exists()
        with open(shard, "a", newline="") as file:
            rows = csv.writer(file)
            if header:
                rows.writerow(["index", *self.columns(top_k)])
            for index, path, ranked, chances in zip(indices, paths, classes.tolist(), probabilities.tolist(),
                                                    strict=True):  # fmt: skip
                pairs = [
                    value for c, p in zip(ranked, chances, strict=True) for value in (self.class_names[c], f"{p:.6f}")
                ]
                rows.writerow([index, str(path), *pairs])

    @staticmethod
    def columns(top_k: int) -> list[str]:
        ranked = [name for k in range(2, top_k + 1) for name in (f"top{k}_label", f"top{k}_probability")]
        return ["path", "label", "probability", *ranked]

    def finish(self, world_size: int) -> str:
        """The ranks' shards -> predictions.csv in input order."""
        rows, header = [], None
        for rank in range(world_size):
            shard = self._shard(rank)
            if not shard.exists():  # a rank whose every file was unreadable
                continue
            with open(shard, newline="") as file:
                header, *body = list(csv.reader(file))
            rows += body
            shard.unlink()
        target = self.folder / "predictions.csv"
        with open(target, "w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(header[1:] if header else self.columns(1))
            writer.writerows(row[1:] for row in sorted(rows, key=lambda row: int(row[0])))
        return f"wrote {target}"
