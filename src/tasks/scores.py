"""Metrics with one value per target or label: loggers take scalars, so they are logged one key per name."""

from collections.abc import Sequence

from torch import Tensor


def per_name(values: Tensor, prefix: str, names: Sequence[str]) -> dict[str, Tensor]:
    """values (K,) -> {prefix/<name>: value}; a slash in a name would open a TensorBoard level, so it becomes "-"."""
    return {f"{prefix}/{name.replace('/', '-')}": value for name, value in zip(names, values, strict=True)}
