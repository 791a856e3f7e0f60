"""predictions.csv, a row per input: the input's own cells (an image's path, or a table row's cells) and the
task's prediction columns, written a batch at a time (one shard per rank, merged in input order at the end)."""

import csv
from pathlib import Path
from typing import ClassVar

from torch import Tensor

from src.inference.files import PredictionFiles


class CsvPredictions(PredictionFiles):
    """predictions.csv for the tasks whose prediction is a few numbers per input. A subclass says which columns
    (`prediction_columns`) and their cells per input (`prediction_cells`).

    options: table: (header, rows) of the input table, whose rows lead each output row (else the image's path).
    """

    outputs: ClassVar[tuple[str, ...]] = ("predictions.csv",)
    table_name: ClassVar[str] = "predictions.csv"

    def prediction_columns(self) -> list[str]:
        raise NotImplementedError

    def prediction_cells(self, logits: Tensor, sizes: list[tuple[int, int]]) -> list[list[str]]:
        """logits (B, ...) on the CPU and each input's original (height, width) -> the prediction cells per input."""
        raise NotImplementedError

    def _leading(self) -> list[str]:
        table = self.options.get("table")
        return list(table[0]) if table else ["path"]

    def _shard(self, rank: int) -> Path:
        return self.folder / f"{Path(self.table_name).stem}.rank{rank}.csv"

    def write(self, logits: Tensor, indices: list[int], paths: list[Path], names: list[str],
              sizes: list[tuple[int, int]]) -> None:  # fmt: skip
        """One batch -> a row each, its input index first (dropped when merging); all rows in one write."""
        table = self.options.get("table")
        leading = [table[1][index] for index in indices] if table else [[str(path)] for path in paths]
        shard = self._shard(self.rank)
        header = not shard.exists()
        with open(shard, "a", newline="") as file:
            rows = csv.writer(file)
            if header:
                rows.writerow(["index", *self._leading(), *self.prediction_columns()])
            cells = self.prediction_cells(logits, sizes)
            rows.writerows([index, *lead, *cell] for index, lead, cell in zip(indices, leading, cells, strict=True))

    def finish(self, world_size: int) -> str:
        """The ranks' shards -> the table (predictions.csv) in input order."""
        rows = []
        for rank in range(world_size):
            shard = self._shard(rank)
            if not shard.exists():  # a rank whose every file was unreadable
                continue
            with open(shard, newline="") as file:
                rows += list(csv.reader(file))[1:]
            shard.unlink()
        target = self.folder / self.table_name
        with open(target, "w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow([*self._leading(), *self.prediction_columns()])
            writer.writerows(row[1:] for row in sorted(rows, key=lambda row: int(row[0])))
        return f"wrote {target}"


def number_cells(values: Tensor) -> list[list[str]]:
    """(B, K) numbers -> per row K cells, 6 significant digits."""
    return [[f"{value:.6g}" for value in row] for row in values.tolist()]
