"""A table's preprocessing, fitted on the training rows only and kept as plain data: scikit-learn's
`ColumnTransformer([("num", StandardScaler(), numeric), ("cat", OneHotEncoder(handle_unknown="ignore"),
categorical)])` fits it; its statistics (each numeric column's mean and scale, each categorical column's
categories) are what a checkpoint keeps, and what every split and predict's new rows are transformed with.

Features (N, F), in the transformer's order: the numeric columns standardised, (x - mean) / scale (a column
constant in training has scale 1, as StandardScaler gives it), then per categorical column one 0/1 feature per
category met in training, in sorted order (a value training never met sets none: all zeros).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from src.data.table_file import Columns


@dataclass(frozen=True)
class Preprocessing:
    numeric: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    categorical: tuple[str, ...]
    categories: tuple[tuple[str, ...], ...]

    @classmethod
    def fit(
        cls, columns: Columns, numeric: Sequence[str], categorical: Sequence[str], rows: np.ndarray
    ) -> "Preprocessing":
        """Fit the ColumnTransformer on `rows` (the training split's indices) of `columns`."""
        from sklearn.compose import ColumnTransformer
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        names = [*numeric, *categorical]
        table = np.empty((len(rows), len(names)), dtype=np.float64 if not categorical else object)
        for index, name in enumerate(names):
            table[:, index] = columns[name][rows]
        parts = [("num", StandardScaler(), list(range(len(numeric))))] if numeric else []
        if categorical:
            encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
            parts.append(("cat", encoder, list(range(len(numeric), len(names)))))
        fitted = ColumnTransformer(parts, sparse_threshold=0).fit(table)
        scaler = fitted.named_transformers_["num"] if numeric else None
        encoder = fitted.named_transformers_["cat"] if categorical else None
        return cls(
            tuple(numeric),
            tuple(float(v) for v in scaler.mean_) if scaler else (),
            tuple(float(v) for v in scaler.scale_) if scaler else (),
            tuple(categorical),
            tuple(tuple(str(value) for value in values) for values in encoder.categories_) if encoder else (),
        )

    @property
    def feature_names(self) -> list[str]:
        """The numeric columns' names, then `column=category` per one-hot feature."""
        one_hot = [f"{name}={value}" for name, values in zip(self.categorical, self.categories, strict=True)
                   for value in values]  # fmt: skip
        return [*self.numeric, *one_hot]

    @property
    def num_features(self) -> int:
        return len(self.numeric) + sum(map(len, self.categories))

    def feature_statistics(self) -> tuple[Tensor, Tensor]:
        """Per feature, what the transform subtracts and divides by: (F,) each; a one-hot feature's 0 and 1."""
        one_hot = self.num_features - len(self.numeric)
        mean = torch.tensor([*self.mean, *[0.0] * one_hot], dtype=torch.float64)
        return mean.float(), torch.tensor([*self.scale, *[1.0] * one_hot], dtype=torch.float64).float()

    def transform(self, columns: Columns) -> Tensor:
        """Columns holding at least the fitted ones (numbers for numeric, text for categorical) -> float32 (N, F)."""
        parts = []
        if self.numeric:
            numbers = np.stack([columns[name] for name in self.numeric], axis=1).astype(np.float64)
            parts.append((numbers - np.array(self.mean)) / np.array(self.scale))
        for name, values in zip(self.categorical, self.categories, strict=True):
            cells = np.asarray(columns[name], dtype=object)
            parts.append((cells[:, None] == np.array(values, dtype=object)[None, :]).astype(np.float64))
        return torch.from_numpy(np.concatenate(parts, axis=1)).float()

    def state(self) -> dict[str, Any]:
        """Plain lists and numbers, as a checkpoint loaded with weights_only=True takes them."""
        return {
            "numeric": list(self.numeric),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "categorical": list(self.categorical),
            "categories": [list(values) for values in self.categories],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "Preprocessing":
        return cls(
            tuple(state["numeric"]),
            tuple(float(v) for v in state["mean"]),
            tuple(float(v) for v in state["scale"]),
            tuple(state["categorical"]),
            tuple(tuple(values) for values in state["categories"]),
        )
