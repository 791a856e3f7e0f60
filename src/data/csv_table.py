"""The user's own table: a CSV or Parquet file (read with pyarrow, src/data/table_file.py), surveyed once
(src/data/table_survey.py) for what the config interpolates, then split, encoded and served like every table."""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from src.data.base import held_out_size
from src.data.table_file import TABLE_SUFFIXES
from src.data.table_survey import TableSurvey, survey_table
from src.data.tables import CLASS_TASKS, Table, TableDataModule, split_rows

__all__ = ["TABLE_SUFFIXES", "CSVTableDataModule"]


def _as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(item) for item in value]


def _survey(node: Any) -> TableSurvey:
    targets = _as_list(node.target)
    if not targets:
        raise ValueError("data.target must name the target column (or a list of them), got none")
    return survey_table(Path(node.path).expanduser(), targets, _as_list(node.categorical), _as_list(node.drop))


class CSVTableDataModule(TableDataModule):
    """A CSV or Parquet file (`path`; Parquet by its suffix, .parquet or .pq) of one row per sample: `target` names
    the target column (or several: regression targets or multi-label 0/1 columns), `drop` columns to ignore,
    `categorical` columns of names one-hot encoded (text columns are categorical anyway; list a column of numbers
    here to treat its values as names). Classification targets may be any names: the classes are their sorted
    distinct values (`class_names`).

    num_features, class_names, num_classes, num_targets: read from the file through the config
    (`${survey:...}`, `facts`), and the task guessed from the targets (`infer_task`) when none is named.
    Refused with one line that names the file and the column: a missing value, a missing target (or drop, or
    categorical) column, a column of numbers with a cell that is not one, targets the task cannot learn.
    """

    def __init__(
        self,
        *,
        path: str,
        target: str | Sequence[str],
        categorical: Sequence[str] | None = None,
        drop: Sequence[str] | None = None,
        class_names: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.path = Path(path).expanduser()
        self.targets = _as_list(target)
        if not self.targets:
            raise ValueError("data.target must name the target column (or a list of them), got none")
        self.categorical = _as_list(categorical)
        self.drop = _as_list(drop)
        self.class_names = list(class_names or [])
        self.target_names = self.targets

    @classmethod
    def facts(cls, node: Any) -> dict[str, Any]:
        """What the file says, for the config's `${survey:<key>}` (src/run/resolvers.py): the feature count is
        that of the training rows of this fold (the one-hot categories are fitted there)."""
        survey = _survey(node)
        survey.check_task(node.task)
        labels = survey.labels() if node.task in CLASS_TASKS else None
        val_size = held_out_size("val_size", node.val_size)
        rows = split_rows(labels, survey.rows, node.folds, node.fold, node.seed, val_size)
        return survey.facts(node.task, rows["train"])

    @classmethod
    def infer_task(cls, node: Any) -> str | None:
        """The task the target column(s) call for (src/data/table_survey.py; src/run/task_choice.py)."""
        return _survey(node).infer_task()

    def read(self) -> Table:
        survey = survey_table(self.path, self.targets, self.categorical, self.drop)
        survey.check_task(self.task)
        if self.task in CLASS_TASKS and not self.class_names:
            self.class_names = list(survey.class_names)  # built without the config's (a test, a notebook)
        if self.task in CLASS_TASKS and self.class_names != list(survey.class_names):
            raise ValueError(
                f"data.class_names={self.class_names} but {self.path} column {self.targets[0]!r} holds the classes "
                f"{list(survey.class_names)}; leave data.class_names out (it is read from the file)"
            )
        return Table(survey.columns, list(survey.numeric), list(survey.categorical), self._targets(survey))

    def _targets(self, survey: TableSurvey) -> Tensor:
        if self.task in CLASS_TASKS:
            return torch.from_numpy(survey.labels())
        values = np.stack([survey.columns[name] for name in self.targets], axis=1)
        if self.task == "regression":
            return torch.from_numpy(values).float()
        self.class_names = list(self.targets)  # multilabel: a label per column
        return torch.from_numpy(values).long()
