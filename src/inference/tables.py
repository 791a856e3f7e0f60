"""Table inputs for predict: a CSV or Parquet file (read by the data layer's own reader) -> the run's features,
transformed with the run's fitted preprocessing, and the table itself (its rows lead predictions.csv).

The preprocessing comes from the checkpoint (the data module's state, src/data/table_preprocess.py): the numeric
columns the run was trained on, standardised with the training rows' mean and scale, and one 0/1 feature per
training category of each categorical column. The training file is not read.
"""

from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset

from src.data.table_file import TABLE_SUFFIXES, Columns, check_filled, is_text, not_a_number, read_cells, read_columns
from src.data.tables import TableDataModule
from src.inference.inputs import AS_IS


def table_features(path: Path, columns: Columns, datamodule: TableDataModule) -> Tensor:
    """The input table's columns -> features float (N, F) in the run's feature order, transformed.

    A feature column the run was trained on that the table lacks, a missing value or a non-number: one line
    naming the column. A categorical value training never met sets none of that column's 0/1 features (as
    scikit-learn's OneHotEncoder(handle_unknown="ignore")); predict says how many rows had one.
    """
    preprocessing = datamodule.preprocessing
    needed = [*preprocessing.numeric, *preprocessing.categorical]
    for name in needed:
        if name not in columns:
            raise ValueError(
                f"{path} has no column {name!r}, a feature the run was trained on; its columns: {', '.join(columns)}"
            )
    check_filled(path, columns, needed, "fill them in or remove those rows")
    for name in preprocessing.numeric:
        if is_text(columns[name]):
            raise not_a_number(path, name, columns[name], "training read numbers there")
    for name, known in zip(preprocessing.categorical, preprocessing.categories, strict=True):
        _report_unseen(name, columns[name], set(known))
    return datamodule.transform(columns)


def _report_unseen(name: str, cells: list, known: set[str]) -> None:
    unseen = sorted({cell for cell in cells if cell not in known})
    if unseen:
        count = sum(cell not in known for cell in cells)
        print(f"column {name!r}: {count} row(s) hold values training never met ({', '.join(unseen[:5])}); "
              "their one-hot features are all 0", flush=True)  # fmt: skip


class TableRows(Dataset):
    """Transformed feature rows (N, F) served a batch at a time as predict's image batches are: (features (B, F),
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
    path = paths[0]
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise ValueError(
            f"input={path} is not a table; the run was trained on a table: pass a {'/'.join(TABLE_SUFFIXES)} file"
        )
    features = table_features(path, read_columns(path, datamodule.preprocessing.categorical), datamodule)
    header, rows = read_cells(path)
    options["table"] = (header, rows)
    return TableRows(features), paths * len(rows), [str(number) for number in range(1, len(rows) + 1)], None
