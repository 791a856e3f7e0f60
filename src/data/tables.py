"""Tables: feature vectors (N, F) and one target per row, split into cross-validation folds by the data seed.

Tables have no official test split, and one split of a few hundred rows is noise, so `folds` and `fold` choose
which of the seeded folds (stratified for classes, shuffled for regression) is the test set; validation is
carved from the rest the same way. Features are standardised with the training split's statistics only (as a
scikit-learn `StandardScaler` fitted on the training fold would), once, in `setup`: they are served as float
tensors, already normalised, by indexing like every other set.
"""

from typing import ClassVar

import numpy as np
import torch
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split
from torch import Tensor

from src.data.base import InMemoryDataModule, InMemoryDataset, Split, positive_int

# What a table's task makes of its target column(s), and how each is stored.
TABLE_TASKS = ("regression", "binary", "classification", "multilabel")
CLASS_TASKS = ("binary", "classification")  # one column of class labels: folds are stratified by it


def fold_indices(targets: np.ndarray, folds: int, fold: int, seed: int, stratify: bool) -> tuple[np.ndarray, ...]:
    """Row indices of (the rest, the test fold) for fold `fold` of `folds`, seeded; every row is in one test fold.

    targets: (N,) class labels (stratify=True) or anything with N rows (shuffled folds).
    """
    splitter = StratifiedKFold if stratify else KFold
    labels = targets if stratify else np.zeros(len(targets))
    rest, test = list(splitter(folds, shuffle=True, random_state=seed).split(labels, labels))[fold]
    return rest, test


def feature_statistics(train: Tensor) -> tuple[Tensor, Tensor]:
    """The training split's features (N, F) -> their mean and std (F,), a constant column's std 1e-12 (it then
    stays 0 once standardised)."""
    return train.mean(0), train.std(0, correction=0).clamp_min(1e-12)


class TableDataModule(InMemoryDataModule):
    """Rows of `num_features` numbers and their targets, served as (features (B, F) float32, targets).

    Targets by `task`: regression float32 (B, T); binary and classification int64 (B,) class indices;
    multilabel int64 (B, C) in {0, 1}. Subclasses implement `read()` -> (features float (N, F), targets) and
    set `feature_names`, `class_names` (empty for regression) and `target_names`.

    folds, fold: the test set is fold `fold` (0..folds-1) of `folds`; val_size rows of the rest are held out for
    validation (stratified too for classes); both drawn by `seed`, so every model and loss meets the same rows.
    The image fields of the base class describe the stored layout: one channel of `num_features` values.
    """

    task: str
    inputs: ClassVar[str] = "feature vectors"
    input_keys: ClassVar[tuple[str, ...]] = ("num_features",)
    feature_names: list[str]
    target_names: list[str]

    def __init__(
        self,
        *,
        task: str,
        num_features: int,
        batch_size: int,
        val_size: int,
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
        self.target_mean: Tensor | None = None
        self.target_std: Tensor | None = None

    def read(self) -> tuple[Tensor, Tensor]:
        """The whole table: features float (N, F) and targets stored as the task says (see the class)."""
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        features, targets = self.read()
        self._check_read(features, targets)
        labels = targets.numpy() if self.task in CLASS_TASKS else np.zeros(len(targets))
        rest, test = fold_indices(labels, self.folds, self.fold, self.seed, self.task in CLASS_TASKS)
        if not 0 < self.val_size < len(rest):
            raise ValueError(
                f"data.val_size={self.val_size} leaves no training rows out of {len(rest)}; use a smaller val_size"
            )
        stratify = labels[rest] if self.task in CLASS_TASKS else None
        train, val = train_test_split(rest, test_size=self.val_size, random_state=self.seed, stratify=stratify)
        rows = {"train": train, "val": val, "test": test}
        # Every split scaled by the training split's statistics; kept for predict, which scales new rows alike
        # (src/inference/tables.py).
        self.feature_mean, self.feature_std = feature_statistics(features[rows["train"]].float())
        self.splits = {
            split: InMemoryDataset((features[index].float() - self.feature_mean) / self.feature_std, targets[index])
            for split, index in rows.items()
        }
        if self.task == "regression":
            training = targets[rows["train"]].double()
            self.target_mean, self.target_std = training.mean(0), training.std(0, correction=0).clamp_min(1e-12)

    def _check_read(self, features: Tensor, targets: Tensor) -> None:
        if features.shape[1] != self.num_features:
            count = features.shape[1]
            raise ValueError(f"data.num_features={self.num_features} but the table has {count}; set it to {count}")
        outputs = {"regression": self.num_targets, "multilabel": self.num_classes}.get(self.task)
        if outputs is not None and targets.shape[1] != outputs:
            key = "num_targets" if self.task == "regression" else "num_classes"
            raise ValueError(f"data.{key}={outputs} but the table has {targets.shape[1]} targets; set it to that")
        if self.task in CLASS_TASKS and self.num_classes != len(self.class_names):
            count = len(self.class_names)
            raise ValueError(f"data.num_classes={self.num_classes} but the data has {count} classes; set it to {count}")

    def example_inputs(self, batch_size: int) -> Tensor:
        return torch.zeros(batch_size, self.num_features)

    def on_after_batch_transfer(self, batch: Split, dataloader_idx: int) -> tuple[Tensor, Tensor]:
        """Already standardised float features and targets as stored: nothing to convert or augment."""
        return batch

    def preprocess(self, features: Tensor) -> Tensor:
        """Stored rows are what the net sees."""
        return features


class SklearnTableDataModule(TableDataModule):
    """One of scikit-learn's bundled tables (no download), named by `loader` (a `sklearn.datasets` function)."""

    loader: ClassVar[str]
    loader_options: ClassVar[dict[str, object]] = {}

    def read(self) -> tuple[Tensor, Tensor]:
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, self.loader)(**self.loader_options)
        self.feature_names = [str(name) for name in bunch.feature_names]
        features = torch.from_numpy(bunch.data).float()
        if self.task == "regression":
            return features, torch.from_numpy(bunch.target).float().reshape(len(features), -1)
        return features, torch.from_numpy(bunch.target).long()


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
