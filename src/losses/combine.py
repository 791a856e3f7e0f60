"""Combining losses: a weighted sum of named terms."""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor, nn


class WeightedSumLoss(nn.Module):
    """``sum_i w_i * loss_i(logits, target)`` over named terms, e.g. Dice + CCE for segmentation.

    ``losses``: name -> loss module (Hydra instantiates nested ``_target_`` entries); ``weights``: name ->
    float, default 1.0 for every term. ``last_terms`` keeps the latest detached value of each term for
    logging.
    """

    def __init__(self, losses: Mapping[str, nn.Module], weights: Mapping[str, float] | None = None) -> None:
        super().__init__()
        losses = {str(key): losses[key] for key in losses}  # DictConfig from Hydra -> plain dict
        if not losses:
            raise ValueError("WeightedSumLoss: losses is empty; give at least one name: loss module pair")
        for key, loss in losses.items():
            if not isinstance(loss, nn.Module):
                raise TypeError(f"WeightedSumLoss: term {key!r} must be an nn.Module, got {type(loss).__name__}")
        weights = {key: 1.0 for key in losses} if weights is None else {str(k): weights[k] for k in weights}
        if set(weights) != set(losses):
            raise ValueError(f"WeightedSumLoss: weights keys {sorted(weights)} must match losses keys {sorted(losses)}")
        self.losses = nn.ModuleDict(losses)
        self.weights = {key: float(value) for key, value in weights.items()}
        self.last_terms: dict[str, Tensor] = {}

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        """logits, target as each term expects -> scalar weighted sum."""
        terms = {key: loss(logits, target) for key, loss in self.losses.items()}
        self.last_terms = {key: value.detach() for key, value in terms.items()}
        return sum(self.weights[key] * value for key, value in terms.items())

    def extra_repr(self) -> str:
        return f"weights={self.weights}"
