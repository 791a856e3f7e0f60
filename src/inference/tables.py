"""Table inputs for predict: a CSV or Parquet file (read by the data layer's own reader) -> the run's features,
standardised with the run's training statistics, and the table itself (its rows lead predictions.csv).

The features are built as training built them (src/data/csv_table.py): the numeric columns the run was trained
on, and one 0/1 column per training value of each categorical column. The training statistics are recomputed
from the run's own training table and fold (its saved data config), exactly as training computed them.
"""

from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset

from src.data import csv_table
from src.data.csv_table import TABLE_SUFFIXES, check_filled, feature_column, feature_values
from src.data.tables import TableDataModule
from src.inference.inputs import AS_IS


def read_table(path: Path) -> tuple[list[str], list[list[str]]]:
    """A table file -> (header, rows of cells), with the data layer's reader (and its one-line errors)."""
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise ValueError(
            f"input={path} is not a table; the run was trained on a table: pass a {'/'.join(TABLE_SUFFIXES)} file"
        )
    return csv_table.read_table(path)


def table_features(path: Path, header: list[str], rows: list[list[str]], datamodule: TableDataModule) -> Tensor:
    """The input table's cells -> features float (N, F) in the run's feature order, standardised.

    A feature column the run was trained on that the table lacks, a missing value or a non-number: one line
    naming the column. A categorical value training never met sets none of that column's 0/1 features (as
    scikit-learn's OneHotEncoder(handle_unknown="ignore")); predict says how many rows had one.
    """
    categorical = list(getattr(datamodule, "categorical", []))
    columns: dict[str, list[str]] = {}
    for name in (feature_column(feature, categorical) for feature in datamodule.feature_names):
        if name not in header:
            raise ValueError(
                f"{path} has no column {name!r}, a feature the run was trained on; its columns: {', '.join(header)}"
            )
        columns.setdefault(name, [row[header.index(name)].strip() for row in rows])
    check_filled(path, columns, "fill them in or remove those rows")
    values = feature_values(path, columns, datamodule.feature_names, categorical, "training read numbers there")
    _report_unseen(columns, set(categorical), datamodule.feature_names)
    return (values - datamodule.feature_mean) / datamodule.feature_std


def _report_unseen(columns: dict[str, list[str]], categorical: set[str], feature_names: list[str]) -> None:
    for name in sorted(categorical & columns.keys()):
        known = {feature.partition("=")[2] for feature in feature_names if feature.startswith(f"{name}=")}
        unseen = sorted({cell for cell in columns[name] if cell not in known})
        if unseen:
            count = sum(cell not in known for cell in columns[name])
            print(f"column {name!r}: {count} row(s) hold values training never met ({', '.join(unseen[:5])}); "
                  "their one-hot features are all 0", flush=True)  # fmt: skip


class TableRows(Dataset):
    """Standardised feature rows (N, F) served a batch at a time as predict's image batches are: (features (B, F),
    indices (B,), sizes (B, 2): (1, F), a row of F values, statuses (B,): all AS_IS)."""

    def __init__(self, features: Tensor) -> None:
        self.features = features

    def __len__(self) -> int:
        return len(self.features)

    def __getitems__(self, indices: list[int]) -> list[Tensor]:
        index = torch.as_tensor(indices)
        sizes = torch.tensor([1, self.features.shape[1]]).expand(len(index), 2)
        return [self.features[index], index, sizes, torch.full((len(index),), AS_IS)]


def table_inputs(
    paths: list[Path], datamodule: TableDataModule, options: dict
) -> tuple[TableRows, list[Path], list[str], None]:
    """input= of a table run -> its rows as a dataset, a path and name per row (the file; the row number from 1),
    no colour mode; options gains the table (its rows lead predictions.csv)."""
    if len(paths) != 1:
        raise ValueError(f"the run was trained on a table: pass one table file as input=, got {len(paths)} files")
    header, rows = read_table(paths[0])
    features = table_features(paths[0], header, rows, datamodule)
    options["table"] = (header, rows)
    return TableRows(features), paths * len(rows), [str(number) for number in range(1, len(rows) + 1)], None
