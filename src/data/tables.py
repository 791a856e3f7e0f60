"""Tables: feature vectors (N, F) and one target per row, split into cross-validation folds by the data seed.

Tables have no official test split, and one split of a few hundred rows is noise, so `folds` and `fold` choose
which of the seeded folds (stratified for classes, shuffled for regression) is the test set; validation is
carved from the rest the same way. The preprocessing (src/data/table_preprocess.py: numeric columns standardised,
categorical ones one-hot) is fitted on the training split only, once, in `setup`; every split is served as float
tensors, already transformed, by indexing like every other set. A checkpoint keeps the fitted preprocessing as
plain data (`state_dict`), so predict transforms new rows without the training file.
"""

from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split
from torch import Tensor

from src.data.base import InMemoryDataModule, InMemoryDataset, Split, held_out_count, positive_int
from src.data.table_file import Columns
from src.data.table_preprocess import Preprocessing

# What a table's task makes of its target column(s), and how each is stored.
TABLE_TASKS = ("regression", "binary", "classification", "multilabel")
CLASS_TASKS = ("binary", "classification")  # one column of class labels: folds are stratified by it


class Table(NamedTuple):
    """A table as read: its columns, which of them are numeric and categorical features, and the targets."""

    columns: Columns
    numeric: list[str]
    categorical: list[str]
    targets: Tensor


def fold_indices(targets: np.ndarray, folds: int, fold: int, seed: int, stratify: bool) -> tuple[np.ndarray, ...]:
    """Row indices of (the rest, the test fold) for fold `fold` of `folds`, seeded; every row is in one test fold.

    targets: (N,) class labels (stratify=True) or anything with N rows (shuffled folds).
    """
    splitter = StratifiedKFold if stratify else KFold
    labels = targets if stratify else np.zeros(len(targets))
    try:
        rest, test = list(splitter(folds, shuffle=True, random_state=seed).split(labels, labels))[fold]
    except ValueError as error:
        by = " by class" if stratify else ""
        raise ValueError(f"data.folds={folds} cannot split {len(labels)} rows{by}: {error} Use fewer folds") from None
    return rest, test


def split_rows(
    labels: np.ndarray | None, count: int, folds: int, fold: int, seed: int, val_size: int | float
) -> dict[str, np.ndarray]:
    """Row indices of the train, val and test splits of `count` rows: the test fold, then `val_size` rows (a
    count, or a fraction of the rest) held out of the rest; stratified by `labels` (N,) when given."""
    rest, test = fold_indices(labels if labels is not None else np.zeros(count), folds, fold, seed, labels is not None)
    held = held_out_count(val_size, len(rest))
    if held >= len(rest):
        raise ValueError(
            f"data.val_size={val_size} leaves no training rows: {len(rest)} of the table's {count} rows are outside "
            f"the test fold (data.folds={folds}); use a fraction such as 0.15, or a count below {len(rest)}"
        )
    stratify = labels[rest] if labels is not None else None
    try:
        train, val = train_test_split(rest, test_size=held, random_state=seed, stratify=stratify)
    except ValueError as error:
        raise ValueError(
            f"data.val_size={val_size} cannot hold out {held} validation rows stratified by class from {len(rest)} "
            f"rows: {error}; change data.val_size, or merge or remove the rarest classes"
        ) from None
    return {"train": train, "val": val, "test": test}


class TableDataModule(InMemoryDataModule):
    """Rows of `num_features` numbers and their targets, served as (features (B, F) float32, targets).

    Targets by `task`: regression float32 (B, T); binary and classification int64 (B,) class indices;
    multilabel int64 (B, C) in {0, 1}. Subclasses implement `read()` -> `Table` and set `class_names` (empty for
    regression) and `target_names`.

    folds, fold: the test set is fold `fold` (0..folds-1) of `folds`; val_size rows (or a fraction) of the rest are
    held out for validation (stratified too for classes); both drawn by `seed`, so every model and loss meets the
    same rows. The image fields of the base class describe the stored layout: one channel of `num_features` values.
    """

    task: str
    inputs: ClassVar[str] = "feature vectors"
    input_keys: ClassVar[tuple[str, ...]] = ("num_features",)
    target_names: list[str]

    def __init__(
        self,
        *,
        task: str,
        num_features: int,
        batch_size: int,
        val_size: int | float,
        seed: int,
        folds: int = 5,
        fold: int = 0,
        num_classes: int | None = None,
        num_targets: int = 1,
        num_workers: int = 0,
    ) -> None:
        if task not in TABLE_TASKS:
            raise ValueError(f"data.task must be one of {TABLE_TASKS}, got {task!r}")
        self.task = task
        self.num_features = positive_int("num_features", num_features)
        self.num_targets = positive_int("num_targets", num_targets)
        self.folds = positive_int("folds", folds, minimum=2)
        if isinstance(fold, bool) or not isinstance(fold, int) or not 0 <= fold < folds:
            raise ValueError(f"data.fold must be one of 0..{folds - 1} (data.folds={folds}), got {fold!r}")
        self.fold = fold
        classes = num_classes if task != "regression" else num_targets  # the base wants a count of outputs
        super().__init__(
            batch_size=batch_size, val_size=val_size, seed=seed, num_classes=classes, in_channels=1,
            image_size=(num_features,), num_workers=num_workers,
        )  # fmt: skip
        self.preprocessing: Preprocessing | None = None
        self.target_mean: Tensor | None = None
        self.target_std: Tensor | None = None

    def read(self) -> Table:
        """The whole table: its columns and targets stored as the task says (see the class)."""
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        table = self.read()
        self._check_targets(table.targets)
        labels = table.targets.numpy() if self.task in CLASS_TASKS else None
        rows = split_rows(labels, len(table.targets), self.folds, self.fold, self.seed, self.val_size)
        self.preprocessing = Preprocessing.fit(table.columns, table.numeric, table.categorical, rows["train"])
        if self.preprocessing.num_features != self.num_features:
            count = self.preprocessing.num_features
            raise ValueError(
                f"data.num_features={self.num_features} but the table has {count} features once encoded; "
                f"set data.num_features={count} (data=table reads it from the file when you leave it out)"
            )
        features = self.preprocessing.transform(table.columns)
        self.splits = {split: InMemoryDataset(features[index], table.targets[index]) for split, index in rows.items()}
        if self.task == "regression":
            training = table.targets[rows["train"]].double()
            self.target_mean, self.target_std = training.mean(0), training.std(0, correction=0).clamp_min(1e-12)

    def _check_targets(self, targets: Tensor) -> None:
        outputs = {"regression": self.num_targets, "multilabel": self.num_classes}.get(self.task)
        if outputs is not None and targets.shape[1] != outputs:
            key = "num_targets" if self.task == "regression" else "num_classes"
            raise ValueError(f"data.{key}={outputs} but the table has {targets.shape[1]} targets; set it to that")
        if self.task in CLASS_TASKS and self.num_classes != len(self.class_names):
            count = len(self.class_names)
            raise ValueError(f"data.num_classes={self.num_classes} but the data has {count} classes; set it to {count}")

    @property
    def feature_names(self) -> list[str]:
        """The features in the net's order: numeric columns, then `column=category` one-hot features."""
        return self.preprocessing.feature_names

    @property
    def feature_mean(self) -> Tensor:
        """(F,) what the preprocessing subtracts per feature (0 for a one-hot feature)."""
        return self.preprocessing.feature_statistics()[0]

    @property
    def feature_std(self) -> Tensor:
        """(F,) what it divides by (1 for a one-hot feature)."""
        return self.preprocessing.feature_statistics()[1]

    def transform(self, columns: Columns) -> Tensor:
        """New rows' columns (predict) -> float32 (N, F), as training transformed its own."""
        return self.preprocessing.transform(columns)

    def state_dict(self) -> dict[str, Any]:
        """The fitted preprocessing and the names of classes and targets, as plain data: predict needs no file."""
        if self.preprocessing is None:
            return {}
        names = {"class_names": list(self.class_names), "target_names": list(self.target_names)}
        return {"preprocessing": self.preprocessing.state(), **names}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "preprocessing" in state:
            self.preprocessing = Preprocessing.from_state(state["preprocessing"])
            self.class_names, self.target_names = list(state["class_names"]), list(state["target_names"])

    def example_inputs(self, batch_size: int) -> Tensor:
        return torch.zeros(batch_size, self.num_features)

    def on_after_batch_transfer(self, batch: Split, dataloader_idx: int) -> tuple[Tensor, Tensor]:
        """Already transformed float features and targets as stored: nothing to convert or augment."""
        return batch

    def preprocess(self, features: Tensor) -> Tensor:
        """Stored rows are what the net sees."""
        return features


class SklearnTableDataModule(TableDataModule):
    """One of scikit-learn's bundled tables (no download), named by `loader` (a `sklearn.datasets` function)."""

    loader: ClassVar[str]
    loader_options: ClassVar[dict[str, object]] = {}

    def read(self) -> Table:
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, self.loader)(**self.loader_options)
        names = [str(name) for name in bunch.feature_names]
        columns = {name: np.asarray(bunch.data[:, index], dtype=np.float64) for index, name in enumerate(names)}
        if self.task == "regression":
            targets = torch.from_numpy(bunch.target).float().reshape(len(bunch.target), -1)
        else:
            targets = torch.from_numpy(bunch.target).long()
        return Table(columns, names, [], targets)


class DiabetesDataModule(SklearnTableDataModule):
    """442 patients, 10 features (age, sex, BMI, blood pressure, six serum values); target: disease progression
    one year later (25..346), regression. Features as measured (`scaled=False`); standardised per fold here."""

    loader = "load_diabetes"
    loader_options: ClassVar[dict[str, object]] = {"scaled": False}
    class_names: ClassVar[list[str]] = []
    target_names: ClassVar[list[str]] = ["progression"]


class BreastCancerDataModule(SklearnTableDataModule):
    """569 tumours, 30 features of their cell nuclei; binary: 0 malignant (212), 1 benign (357)."""

    loader = "load_breast_cancer"
    class_names: ClassVar[list[str]] = ["malignant", "benign"]
    target_names: ClassVar[list[str]] = ["benign"]


class WineDataModule(SklearnTableDataModule):
    """178 wines, 13 chemical measurements; three cultivars (59, 71, 48)."""

    loader = "load_wine"
    class_names: ClassVar[list[str]] = ["class_0", "class_1", "class_2"]
    target_names: ClassVar[list[str]] = ["cultivar"]
