"""The user's own table: a CSV file with a header row (the standard library's csv module) or a Parquet file (pyarrow,
the `parquet` extra), read once into cells of text, then checked and encoded the same way whatever the format."""

import csv
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from src.data.tables import TableDataModule

MISSING = {"", "na", "nan", "null", "none", "n/a", "?"}  # cells that mean "no value" (case-insensitive)
PARQUET = (".parquet", ".pq")  # file suffixes read as Parquet; anything else is CSV
TABLE_SUFFIXES = (".csv", *PARQUET)  # what a table file is called (predict tells tables from images by it)
NOT_A_NUMBER_HINT = "declare it in data.categorical or leave it out with data.drop"


def _as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(item) for item in value]


def is_parquet(path: Path) -> bool:
    return path.suffix.lower() in PARQUET


def read_table(path: Path) -> tuple[list[str], list[list[str]]]:
    """A CSV or Parquet file -> (header, rows of cells as text: a Parquet null is "", a boolean 0 or 1);
    ValueError naming the file when it is empty, has no rows or a ragged CSV row."""
    if not path.is_file():
        raise FileNotFoundError(f"data.path={path} does not exist; give the path of a CSV or Parquet file")
    header, body = _parquet_cells(path) if is_parquet(path) else _csv_cells(path)
    if not header:
        raise ValueError(f"{path} is empty; it needs a header row and at least one row of values")
    if not body:
        raise ValueError(f"{path} has a header but no rows of values")
    return header, body


def _csv_cells(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="") as file:
        rows = [row for row in csv.reader(file) if row]  # blank lines are no rows
    if not rows:
        return [], []
    header, body = [name.strip() for name in rows[0]], rows[1:]
    for number, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise ValueError(f"{path} line {number} has {len(row)} cells but the header has {len(header)} columns")
    return header, body


def _parquet_cells(path: Path) -> tuple[list[str], list[list[str]]]:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise ValueError(
            f"data.path={path} is a Parquet file, which needs pyarrow: pip install '.[parquet]' (make install "
            "brings it), or save the table as CSV"
        ) from None
    if path.stat().st_size == 0:
        return [], []
    try:
        table = pyarrow.parquet.read_table(path)
    except pyarrow.ArrowException as error:
        raise ValueError(f"{path} is not a Parquet file pyarrow can read: {error}") from None
    columns = [[_text(value) for value in table.column(name).to_pylist()] for name in table.column_names]
    return list(table.column_names), [list(row) for row in zip(*columns, strict=True)]


def _text(value: object) -> str:
    """A Parquet value as the CSV reader would see it."""
    if value is None:
        return ""
    return str(int(value)) if isinstance(value, bool) else str(value)


class CSVTableDataModule(TableDataModule):
    """A CSV or Parquet file (`path`; Parquet by its suffix, .parquet or .pq) of one row per sample: `target` names
    the target column (or several: regression targets or multi-label 0/1 columns), `drop` columns to ignore,
    `categorical` columns of names that become one-hot features (one 0/1 column per value found in the file, in
    sorted order). Every other column must be numeric (a Parquet boolean counts as 0/1). Classification targets may
    be any names: the classes are their sorted distinct values.

    Refused with one line that names the file and the column: a missing value, a missing target (or drop, or
    categorical) column, a non-numeric column not declared categorical, an empty file.
    """

    def __init__(
        self,
        *,
        path: str,
        target: str | Sequence[str],
        categorical: Sequence[str] | None = None,
        drop: Sequence[str] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.path = Path(path).expanduser()
        self.targets = _as_list(target)
        if not self.targets:
            raise ValueError("data.target must name the target column (or a list of them), got none")
        self.categorical = _as_list(categorical)
        self.drop = _as_list(drop)
        self.class_names: list[str] = []
        self.target_names = self.targets

    def read(self) -> tuple[Tensor, Tensor]:
        header, rows = read_table(self.path)
        for key, names in (("target", self.targets), ("categorical", self.categorical), ("drop", self.drop)):
            for name in names:
                if name not in header:
                    raise ValueError(
                        f"{self.path} has no column {name!r} (data.{key}); its columns: {', '.join(header)}"
                    )
        columns = {name: [row[index].strip() for row in rows] for index, name in enumerate(header)}
        check_filled(self.path, {name: columns[name] for name in header if name not in self.drop},
                     "fill them in, remove those rows, or drop the column with data.drop")  # fmt: skip
        used = [name for name in header if name not in self.drop and name not in self.targets]
        self.feature_names = []
        for name in used:
            if name in self.categorical:
                self.feature_names += [f"{name}={value}" for value in sorted(set(columns[name]))]
            else:
                self.feature_names.append(name)
        features = feature_values(self.path, columns, self.feature_names, self.categorical, NOT_A_NUMBER_HINT)
        return features, self._encode_targets(columns)

    def _encode_targets(self, columns: dict[str, list[str]]) -> Tensor:
        if self.task in ("binary", "classification"):
            if len(self.targets) != 1:
                raise ValueError(f"data.task={self.task} takes one target column, got data.target={self.targets}")
            cells = columns[self.targets[0]]
            self.class_names = sorted(set(cells), key=lambda c: (not _is_number(c), float(c) if _is_number(c) else c))
            index = {name: number for number, name in enumerate(self.class_names)}
            return torch.tensor([index[cell] for cell in cells])
        values = torch.tensor([numbers(self.path, name, columns[name], NOT_A_NUMBER_HINT) for name in self.targets]).T
        if self.task == "regression":
            return values.float()
        if not ((values == 0) | (values == 1)).all():
            raise ValueError(f"{self.path}: multilabel target columns {self.targets} must hold only 0 and 1")
        self.class_names = self.targets  # a label per column
        return values.long()


def check_filled(path: Path, columns: dict[str, list[str]], hint: str) -> None:
    """One line naming the first column with a missing cell (see MISSING) and where it is."""
    for name, cells in columns.items():
        if empty := [index for index, cell in enumerate(cells) if cell.lower() in MISSING]:
            raise ValueError(
                f"{path} has no value in column {name!r} on {place(path, empty[0])} ({len(empty)} rows in all); {hint}"
            )


def feature_values(
    path: Path, columns: dict[str, list[str]], feature_names: Sequence[str], categorical: Sequence[str], hint: str
) -> Tensor:
    """The columns' cells -> features float (N, F) in the order of `feature_names`: a categorical column's
    `name=value` feature is 1 where the cell is value (0 for a value it does not name), any other is the number."""
    features = []
    for feature in feature_names:
        name = feature_column(feature, categorical)
        if name != feature:
            value = feature.removeprefix(f"{name}=")
            features.append([float(cell == value) for cell in columns[name]])
        else:
            features.append(numbers(path, feature, columns[feature], hint))
    return torch.tensor(features, dtype=torch.float64).T.float()


def feature_column(feature: str, categorical: Sequence[str]) -> str:
    """The column a feature comes from: `colour` for a categorical column's `colour=red`, else the feature."""
    return next((name for name in categorical if feature.startswith(f"{name}=")), feature)


def numbers(path: Path, name: str, cells: list[str], hint: str) -> list[float]:
    """A column's cells as numbers; one line naming the first that is not one, where it is, and `hint`."""
    try:
        return [float(cell) for cell in cells]
    except ValueError:
        bad = next(index for index, cell in enumerate(cells) if not _is_number(cell))
        raise ValueError(
            f"{path} column {name!r} holds {cells[bad]!r} ({place(path, bad)}), which is not a number; {hint}"
        ) from None


def place(path: Path, row: int) -> str:
    """Where a row (0: the first after the header) is in the file, as its reader would count."""
    return f"row {row + 1}" if is_parquet(path) else f"line {row + 2}"


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
