"""Shape handling shared by every loss: mode inference, dense targets, ignore masks, masked means.

Layouts (S = any trailing spatial dims, possibly none):
    class indices   logits (N, C, *S), integer target (N, *S)   -> multiclass (binary when C == 1)
    same shape      logits (N, *),     target of the same shape -> binary for (N,) / (N, 1, *S),
                                                                   otherwise multilabel or soft multiclass
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

MODES = ("binary", "multiclass", "multilabel")


def check_choice(value: object, allowed: tuple, what: str, name: str) -> None:
    """Raise a ValueError naming ``what`` when ``value`` is not one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"{name}: {what} must be one of {allowed}, got {value!r}")


def check_fraction(value: float, what: str, name: str) -> None:
    """Raise unless 0 <= value <= 1 (smoothing amounts)."""
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}: {what} must be in [0, 1], got {value!r}")


def infer_mode(
    logits: Tensor,
    target: Tensor,
    mode: str,
    *,
    name: str,
    same_shape: str = "multilabel",
    allowed: tuple[str, ...] = MODES,
) -> str:
    """Resolve ``mode="auto"`` from shapes and check an explicit mode against them.

    ``same_shape`` is what a same-shape float target with C > 1 means for this loss: "multilabel" (BCE,
    hinge, Dice, Jaccard) or "multiclass" soft probabilities (CCE, KL); integer targets are multilabel.
    """
    check_choice(mode, ("auto", *allowed), "mode", name)
    got = f"logits {tuple(logits.shape)} and target {tuple(target.shape)}"
    indices = logits.ndim >= 2 and target.shape == logits.shape[:1] + logits.shape[2:]
    same = target.shape == logits.shape
    if logits.ndim == 0 or not (indices or same):
        raise ValueError(
            f"{name}: {got} do not fit; expected logits (N, C, *S) with integer class indices (N, *S), "
            "or a target shaped like the logits: binary (N,) / (N, 1, *S), multi-label (N, C, *S)"
        )
    single = logits.ndim == 1 or logits.shape[1] == 1
    if mode == "auto":
        labels = same_shape if target.is_floating_point() else "multilabel"  # integers are never probabilities
        mode = "binary" if single else ("multiclass" if indices else labels)
    if mode not in allowed:
        raise ValueError(f"{name}: {got} ({target.dtype}) mean a {mode} problem; this loss supports {allowed}")
    if (mode == "binary") != single:
        raise ValueError(
            f"{name}: mode={mode!r} does not fit {got}; binary needs logits (N,) or (N, 1, *S), "
            "multiclass/multilabel need C >= 2 channels in dim 1"
        )
    if mode == "multilabel" and not same:
        raise ValueError(f"{name}: multilabel needs a target shaped like the logits, got {got}")
    if mode == "multiclass" and indices == target.is_floating_point():
        kind = "class indices must be an integer tensor" if indices else "soft targets must be floating"
        raise ValueError(f"{name}: {kind}, got {got} with dtype {target.dtype}; cast the target")
    return mode


def split_ignore(target: Tensor, ignore_index: int | None) -> tuple[Tensor, Tensor | None]:
    """-> target with ignored entries set to 0 (so one-hot stays in range), bool mask of kept entries."""
    if ignore_index is None:
        return target, None
    valid = target != ignore_index
    return target.masked_fill(~valid, 0), valid


def one_hot(index: Tensor, num_classes: int, dtype: torch.dtype) -> Tensor:
    """index (N, *S) integer -> (N, C, *S) one-hot in ``dtype``, channels in dim 1 like the logits."""
    return F.one_hot(index.long(), num_classes).movedim(-1, 1).to(dtype)


def dense_target(
    logits: Tensor, target: Tensor, mode: str, ignore_index: int | None
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Bring any layout to per-output form for element-wise losses.

    -> logits (N, C, *S), float target (N, C, *S) (one-hot for class indices, C = 1 for binary),
       valid mask broadcastable to (N, C, *S) or None.
    """
    if logits.ndim == 1:  # binary (N,) -> (N, 1)
        logits, target = logits.unsqueeze(1), target.unsqueeze(1)
    target, valid = split_ignore(target, ignore_index)
    if target.ndim == logits.ndim - 1:  # class indices (N, *S): binary labels or multiclass one-hot
        target = one_hot(target, logits.shape[1], logits.dtype) if mode == "multiclass" else target.unsqueeze(1)
        valid = None if valid is None else valid.unsqueeze(1)
    return logits, target.to(logits.dtype), valid


def per_channel(values: Tensor | None, logits: Tensor, what: str, name: str) -> Tensor | None:
    """(C,) per-class values -> (C, 1, ..., 1) so they broadcast over dim 1 of (N, C, *S) logits.

    torch broadcasts ``weight``/``pos_weight`` against the LAST dim, which is the width for images.
    """
    if values is None:
        return None
    channels = logits.shape[1]
    if values.ndim > 1 or values.numel() not in (1, channels):
        raise ValueError(
            f"{name}: {what} needs one value per class ({channels}) or a single value, got shape {tuple(values.shape)}"
        )
    values = values.to(device=logits.device, dtype=logits.dtype)
    return values.reshape(-1, *([1] * (logits.ndim - 2)))


def masked_mean(values: Tensor, valid: Tensor | None) -> Tensor:
    """Mean of ``values`` over entries where ``valid`` (broadcastable) is True; 0 when none is valid."""
    if valid is None:
        return values.mean()
    valid = valid.expand_as(values)
    # clamp: an all-ignored batch has a zero numerator, so any positive count gives 0 instead of NaN
    return (values * valid).sum() / valid.sum().clamp_min(1)
