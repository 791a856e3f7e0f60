"""What a table file says before anything trains: its feature columns (numeric or categorical), its targets and
their classes, and the task they call for. Read once per process (the file's cache, src/data/table_file.py).

Column types are honest: a column of numbers is numeric unless listed in data.categorical; a column of text is
categorical whether listed or not (one printed line names those it chose), except a column most of whose cells
are numbers, which is taken for numbers with a typo and refused in one line naming the cell.

The task, when the command line names none (src/run/task_choice.py):
- several target columns: multilabel when every one holds only 0 and 1, else regression;
- one target of text: classification, or binary when it has two values;
- one target of numbers: classes when every value is a whole number, there are at most CLASS_LIMIT distinct ones
  and fewer than half as many as rows (binary for two), else regression.
"""

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from src.data.table_file import (
    Columns,
    check_filled,
    is_number,
    is_text,
    mostly_numbers,
    not_a_number,
    place,
    read_columns,
)
from src.data.tables import CLASS_TASKS

CLASS_LIMIT = 20  # whole-number targets with at most this many distinct values (and < half the rows) are classes
NOT_A_NUMBER_HINT = "declare it in data.categorical or leave it out with data.drop"
FILL_HINT = "fill them in, remove those rows, or drop the column with data.drop"


def label(value: float) -> str:
    """A number as a class name: 3.0 -> '3', 2.5 -> '2.5'."""
    return str(int(value)) if float(value).is_integer() else str(float(value))


def class_order(name: str) -> tuple:
    """Numbers first, by value, then text: 2 before 10."""
    return (0, float(name), "") if is_number(name) else (1, 0.0, name)


@dataclass(frozen=True)
class TableSurvey:
    """path; rows; numeric and categorical feature columns in file order; targets; class_names of one target
    (its distinct values, sorted: numbers by value), else empty; the file's columns."""

    path: Path
    rows: int
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    targets: tuple[str, ...]
    class_names: tuple[str, ...]
    columns: Columns = field(compare=False, repr=False)

    def text_targets(self) -> list[str]:
        return [name for name in self.targets if is_text(self.columns[name])]

    def whole_numbers(self) -> bool:
        return all(not is_text(v := self.columns[name]) and bool(np.all(v == np.round(v))) for name in self.targets)

    def zero_one(self) -> bool:
        return all(_zero_one(self.columns[name]) for name in self.targets)

    def infer_task(self) -> str | None:
        """The task the targets call for (see the module); None when none fits (the run then says why)."""
        if len(self.targets) > 1:
            return None if self.text_targets() else "multilabel" if self.zero_one() else "regression"
        count = len(self.class_names)
        few = self.whole_numbers() and count <= CLASS_LIMIT and 2 * count < self.rows
        return ("binary" if count == 2 else "classification") if self.text_targets() or few else "regression"

    def check_task(self, task: str) -> None:
        """One line when the targets cannot serve `task`, naming the column and the task that fits."""
        if task in CLASS_TASKS:
            self._check_classes(task)
        elif task == "regression":
            for name in self.text_targets():
                values = self.columns[name]
                if mostly_numbers(values):
                    raise not_a_number(self.path, name, values, "fix the cell (a regression target is a number)")
                row = next(index for index, cell in enumerate(values) if not is_number(cell))
                raise ValueError(
                    f"{self.path} column {name!r} holds text ({values[row]!r}, {place(self.path, row)}), which "
                    f"task=regression cannot learn: its values are classes; use task=classification"
                )
        elif task == "multilabel" and not self.zero_one():
            name = next(name for name in self.targets if not _zero_one(self.columns[name]))
            values = self.columns[name]
            row = next(index for index, cell in enumerate(values) if cell not in (0, 1))
            cell = values[row] if is_text(values) else label(values[row])
            raise ValueError(
                f"{self.path}: multilabel target columns {list(self.targets)} must hold only 0 and 1; column "
                f"{name!r} holds {cell!r} ({place(self.path, row)})"
            )

    def _check_classes(self, task: str) -> None:
        if len(self.targets) != 1:
            raise ValueError(
                f"data.task={task} takes one target column, got data.target={list(self.targets)}; several 0/1 "
                "columns are task=multilabel, several numeric ones task=regression"
            )
        name, count = self.targets[0], len(self.class_names)
        if not self.text_targets() and not self.whole_numbers():
            example = next(value for value in self.columns[name] if value != round(value))
            raise ValueError(
                f"{self.path} column {name!r} holds numbers with fractions ({example:g}), which are not classes; "
                "use task=regression"
            )
        if count < 2:
            raise ValueError(f"{self.path} column {name!r} holds one value ({self.class_names[0]!r}); a classifier "
                             "needs two classes or more")  # fmt: skip
        if task == "binary" and count != 2:
            shown = ", ".join(self.class_names[:5]) + (", ..." if count > 5 else "")
            raise ValueError(
                f"{self.path} column {name!r} has {count} classes ({shown}); task=binary needs exactly two: use "
                "task=classification"
            )

    def labels(self) -> np.ndarray:
        """(N,) int64: each row's class index (one target)."""
        values = self.columns[self.targets[0]]
        names = [cell if is_text(values) else label(cell) for cell in values]
        index = {name: number for number, name in enumerate(self.class_names)}
        return np.array([index[name] for name in names], dtype=np.int64)

    def facts(self, task: str, train: np.ndarray) -> dict[str, object]:
        """What the data config interpolates (`${survey:<key>}`) for `task`, the features counted on the training
        rows `train` (the one-hot categories are fitted there)."""
        classes = list(self.targets) if task == "multilabel" else [] if task == "regression" else self.class_names
        categories = sum(len(np.unique(self.columns[name][train].astype(str))) for name in self.categorical)
        return {
            "num_features": len(self.numeric) + categories,
            "class_names": list(classes),
            "num_classes": len(classes) if task != "regression" else len(self.targets),
            "num_targets": len(self.targets),
            "task": self.infer_task(),
        }


def _zero_one(values: np.ndarray) -> bool:
    return not is_text(values) and bool(np.isin(values, (0, 1)).all())


def survey_table(path: Path, targets: Sequence[str], categorical: Sequence[str], drop: Sequence[str]) -> TableSurvey:
    """Survey the file (once per process while it is unchanged): one line naming the file and the column for a
    column it lacks, a missing value, or a column of numbers with a cell that is not one."""
    read_columns(path, categorical)  # one line if it is missing or unreadable; cached for _survey
    stat = path.stat()
    return _survey(path, stat.st_mtime_ns, stat.st_size, tuple(targets), tuple(categorical), tuple(drop))


@functools.cache
def _survey(
    path: Path, mtime: int, size: int, targets: tuple[str, ...], categorical: tuple[str, ...], drop: tuple[str, ...]
) -> TableSurvey:
    columns = read_columns(path, categorical)
    header = list(columns)
    for key, names in (("target", targets), ("categorical", categorical), ("drop", drop)):
        for name in names:
            if name not in header:
                raise ValueError(f"{path} has no column {name!r} (data.{key}); its columns: {', '.join(header)}")
    check_filled(path, columns, [name for name in header if name not in drop], FILL_HINT)
    numeric, chosen, text = [], [], []
    for name in (name for name in header if name not in drop and name not in targets):
        if name not in categorical and is_text(columns[name]) and mostly_numbers(columns[name]):
            raise not_a_number(path, name, columns[name], NOT_A_NUMBER_HINT)
        if name in categorical or is_text(columns[name]):
            chosen.append(name)
            text += [] if name in categorical else [name]
        else:
            numeric.append(name)
    if not numeric and not chosen:
        raise ValueError(f"{path} has no feature column once the target and data.drop are left out; its columns: "
                         f"{', '.join(header)}")  # fmt: skip
    if text:
        print(f"{path}: column(s) {', '.join(text)} hold text, so each is one-hot encoded as a categorical column "
              "(as if listed in data.categorical); leave one out with data.drop", flush=True)  # fmt: skip
    classes: tuple[str, ...] = ()
    if len(targets) == 1:
        values = columns[targets[0]]
        classes = tuple(sorted({cell if is_text(values) else label(cell) for cell in values}, key=class_order))
    rows = len(next(iter(columns.values())))
    return TableSurvey(path, rows, tuple(numeric), tuple(chosen), targets, classes, columns)
