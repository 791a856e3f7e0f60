"""Pure loss functions on raw network outputs. Every function takes ``(logits, target)``.

Shapes (S = any spatial dims, possibly none; see ``_shapes`` for how modes are inferred):
    multiclass  logits (N, C, *S), target (N, *S) integer indices or (N, C, *S) probabilities
    binary      logits (N,) or (N, 1, *S), target of the logits' shape or (N, *S), values in {0, 1}
    multilabel  logits (N, C, *S), target (N, C, *S) in {0, 1}
    regression  (MSE only) prediction and target of the same shape
All return a scalar mean.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.special import xlogy

from src.losses._shapes import (
    check_choice,
    check_fraction,
    dense_target,
    infer_mode,
    masked_mean,
    one_hot,
    per_channel,
    split_ignore,
)

ACTIVATIONS = ("auto", "softmax", "sigmoid", None)


def _activate(logits: Tensor, activation: str | None) -> Tensor:
    """Apply ``activation`` over the class dim 1 (identity for None)."""
    if activation is None:
        return logits
    if activation == "softmax":
        if logits.ndim < 2:
            raise ValueError(f"mse: activation='softmax' needs logits (N, C, *S), got {tuple(logits.shape)}")
        return logits.softmax(1)
    return logits.sigmoid()


def mse_loss(
    logits: Tensor, target: Tensor, *, activation: str | None = "auto", ignore_index: int | None = None
) -> Tensor:
    """Squared error; the Brier score for class-index targets.

    Same-shape target: ``F.mse_loss(act(logits), target)`` (regression when act is None). Class indices
    (N, *S): one-hot target vs softmax probabilities (sigmoid when C == 1). With softmax the squared
    error is summed over classes and averaged over samples/pixels (Brier score); otherwise averaged.
    """
    check_choice(activation, ACTIVATIONS, "activation", "mse")
    valid = None
    if target.shape == logits.shape:
        act = None if activation == "auto" else activation
        pred, target = _activate(logits, act), target.to(logits.dtype)
    else:
        if target.is_floating_point():
            raise ValueError(
                f"mse: prediction {tuple(logits.shape)} and float target {tuple(target.shape)} differ "
                "in shape; for regression give both the same shape (e.g. target.unsqueeze(1)), "
                "for classification use integer class indices"
            )
        mode = infer_mode(logits, target, "auto", name="mse")
        logits, target, valid = dense_target(logits, target, mode, ignore_index)
        act = activation if activation != "auto" else ("softmax" if mode == "multiclass" else "sigmoid")
        pred = _activate(logits, act)
    squared = F.mse_loss(pred, target, reduction="none")
    if act == "softmax":
        squared = squared.sum(1, keepdim=True)  # Brier: sum over classes, mean over samples/pixels
    return masked_mean(squared, valid)


def bce_loss(
    logits: Tensor,
    target: Tensor,
    *,
    mode: str = "auto",
    weight: Tensor | None = None,
    pos_weight: Tensor | None = None,
    label_smoothing: float = 0.0,
    ignore_index: int | None = None,
) -> Tensor:
    """Binary cross-entropy with logits per output; class indices become one-vs-rest one-hot targets.

    weight, pos_weight: (C,) per class, broadcast over dim 1. Targets become t*(1-e) + e/2.
    Mean over the kept (not ignored) elements.
    """
    check_fraction(label_smoothing, "label_smoothing", "bce")
    mode = infer_mode(logits, target, mode, name="bce")
    logits, target, valid = dense_target(logits, target, mode, ignore_index)
    target = target * (1 - label_smoothing) + label_smoothing / 2
    loss = F.binary_cross_entropy_with_logits(
        logits,
        target,
        weight=per_channel(weight, logits, "weight", "bce"),
        pos_weight=per_channel(pos_weight, logits, "pos_weight", "bce"),
        reduction="none",
    )
    return masked_mean(loss, valid)


def cce_loss(
    logits: Tensor,
    target: Tensor,
    *,
    weight: Tensor | None = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
) -> Tensor:
    """``F.cross_entropy`` over dim 1 with class indices (N, *S) or probabilities (N, C, *S).

    Equals torch's weighted mean, but a batch whose every target is ignored gives 0, not NaN.
    """
    check_fraction(label_smoothing, "label_smoothing", "cce")
    if logits.ndim < 2 or logits.shape[1] < 2:
        raise ValueError(
            f"cce: softmax needs C >= 2 classes in dim 1, got logits {tuple(logits.shape)}; "
            "for one output per sample use loss=bce, or give the net 2 outputs"
        )
    infer_mode(logits, target, "auto", name="cce", same_shape="multiclass", allowed=("multiclass",))
    if weight is not None:
        weight = per_channel(weight, logits, "weight", "cce").flatten()
    if target.shape == logits.shape:  # soft targets: torch's mean over samples/pixels, nothing to ignore
        return F.cross_entropy(logits, target, weight=weight, label_smoothing=label_smoothing)
    index, valid = split_ignore(target, ignore_index)
    loss = F.cross_entropy(logits, index, weight=weight, reduction="none", label_smoothing=label_smoothing)
    norm = torch.ones_like(loss) if weight is None else weight[index]  # torch divides by the weight sum
    if valid is not None:
        loss, norm = loss * valid, norm * valid
    return loss.sum() / norm.sum().clamp_min(torch.finfo(loss.dtype).tiny)


def hinge_loss(
    logits: Tensor,
    target: Tensor,
    *,
    mode: str = "auto",
    margin: float = 1.0,
    squared: bool = False,
    weight: Tensor | None = None,
    ignore_index: int | None = None,
) -> Tensor:
    """SVM hinge. Binary/multilabel: max(0, margin - y*f) with y = 2t - 1, mean over outputs.

    Multiclass: Weston-Watkins ``F.multi_margin_loss`` per sample (per pixel for *S), mean.
    ``squared`` squares each hinge term; weight (C,) scales each output (or each true class).
    """
    mode = infer_mode(logits, target, mode, name="hinge")
    if mode == "multiclass":
        if target.shape == logits.shape:
            raise ValueError(f"hinge: multiclass needs class indices (N, *S), got soft target {tuple(target.shape)}")
        channels = logits.shape[1]
        rows = logits.movedim(1, -1).reshape(-1, channels)  # (N * prod(S), C): one row per sample/pixel
        index, valid = split_ignore(target.reshape(-1), ignore_index)
        if weight is not None:
            weight = per_channel(weight, logits, "weight", "hinge").flatten()
        loss = F.multi_margin_loss(
            rows, index.long(), p=2 if squared else 1, margin=margin, weight=weight, reduction="none"
        )
        return masked_mean(loss, valid)
    logits, target, valid = dense_target(logits, target, mode, ignore_index)
    loss = F.relu(margin - (2 * target - 1) * logits)
    if squared:
        loss = loss.square()
    if weight is not None:
        loss = loss * per_channel(weight, logits, "weight", "hinge")
    return masked_mean(loss, valid)


def kl_loss(
    logits: Tensor,
    target: Tensor,
    *,
    mode: str = "auto",
    epsilon: float = 0.1,
    ignore_index: int | None = None,
) -> Tensor:
    """KL(q || p) per sample (per pixel for *S), summed over classes, averaged over samples/pixels.

    Multiclass: p = softmax(logits); hard labels give q = (1-eps)*onehot + eps/C, soft targets are q.
    Equals ``F.kl_div(log_softmax, q, reduction="batchmean")`` for (N, C). Binary/multilabel: Bernoulli
    KL per output with q = t*(1-eps) + eps/2, summed over the C outputs. xlogy makes q = 0 terms 0.
    """
    check_fraction(epsilon, "epsilon", "kl")
    mode = infer_mode(logits, target, mode, name="kl", same_shape="multiclass")
    if mode == "multiclass":
        valid = None
        if target.shape != logits.shape:
            index, valid = split_ignore(target, ignore_index)
            target = one_hot(index, logits.shape[1], logits.dtype) * (1 - epsilon) + epsilon / logits.shape[1]
            valid = None if valid is None else valid.unsqueeze(1)
        kl = (xlogy(target, target) - target * logits.log_softmax(1)).sum(1, keepdim=True)  # (N, 1, *S)
        return masked_mean(kl, valid)
    logits, target, valid = dense_target(logits, target, mode, ignore_index)
    q = target * (1 - epsilon) + epsilon / 2
    # Bernoulli KL = cross-entropy(q, sigmoid(f)) - entropy(q); BCE-with-logits keeps it stable
    kl = F.binary_cross_entropy_with_logits(logits, q, reduction="none") + xlogy(q, q) + xlogy(1 - q, 1 - q)
    return masked_mean(kl, valid) * logits.shape[1]  # mean over outputs * C = sum over classes


def gaussian_kl(mean: Tensor, log_var: Tensor) -> Tensor:
    """KL(N(mean, exp(log_var)) || N(0, 1)) per dimension, in closed form: (mean^2 + var - 1 - log_var) / 2.

    mean, log_var (N, L) -> (N, L) in nats: the KL term of a VAE with a diagonal Gaussian posterior and a
    standard normal prior, left unreduced so that the ELBO can sum it over dimensions and free bits can clamp it
    per dimension.
    """
    return 0.5 * (mean.square() + log_var.exp() - 1 - log_var)


def soft_dice_score(
    probs: Tensor, target: Tensor, smooth: float = 0.0, eps: float = 1e-7, dims: tuple[int, ...] = (0, 2)
) -> Tensor:
    """(I + s) / max((|p| + |t|) / 2 + s, eps) with I = sum(p * t) over ``dims`` (smp 0.6's form)."""
    intersection = (probs * target).sum(dims)
    cardinality = (probs + target).sum(dims)
    return (intersection + smooth) / (cardinality / 2 + smooth).clamp_min(eps)


def soft_jaccard_score(
    probs: Tensor, target: Tensor, smooth: float = 0.0, eps: float = 1e-7, dims: tuple[int, ...] = (0, 2)
) -> Tensor:
    """(I + s) / max(|p| + |t| - I + s, eps) with I = sum(p * t) over ``dims``."""
    intersection = (probs * target).sum(dims)
    union = (probs + target).sum(dims) - intersection
    return (intersection + smooth) / (union + smooth).clamp_min(eps)


def overlap_inputs(
    logits: Tensor,
    target: Tensor,
    *,
    mode: str,
    from_logits: bool,
    ignore_index: int | None,
    name: str = "dice",
) -> tuple[Tensor, Tensor]:
    """Shared Dice/Jaccard preprocessing (smp's): -> probs, target, both (N, C, P) with P = prod(S).

    Multiclass uses softmax over dim 1, binary/multilabel sigmoid (as log-then-exp, like smp); ignored
    pixels are zeroed in both tensors so they add to neither intersection nor cardinality.
    """
    mode = infer_mode(logits, target, mode, name=name)
    if from_logits:
        logits = logits.log_softmax(1).exp() if mode == "multiclass" else F.logsigmoid(logits).exp()
    probs, target, valid = dense_target(logits, target, mode, ignore_index)
    if valid is not None:
        probs, target = probs * valid, target * valid
    n, c = probs.shape[:2]
    return probs.reshape(n, c, -1), target.reshape(n, c, -1)  # (N, C, P): one "pixel" for classification


def overlap_loss(
    logits: Tensor,
    target: Tensor,
    *,
    score: Callable[..., Tensor],
    name: str,
    mode: str = "auto",
    from_logits: bool = True,
    smooth: float = 0.0,
    eps: float = 1e-7,
    ignore_index: int | None = None,
    classes: Sequence[int] | None = None,
    log_loss: bool = False,
    per_sample: bool = False,
) -> Tensor:
    """1 - score (or -log score) per class, smp reduction (or per sample), mean over kept classes.

    Dice and Jaccard are this with their ``score``; see ``DiceLoss`` for the options.
    """
    if classes is not None and (mode == "binary" or logits.ndim == 1 or logits.shape[1] == 1):
        raise ValueError(f"{name}: classes={list(classes)} selects channels, which 1-channel (binary) logits lack")
    probs, target = overlap_inputs(
        logits, target, mode=mode, from_logits=from_logits, ignore_index=ignore_index, name=name
    )
    dims = (2,) if per_sample else (0, 2)  # (N, C) per sample (MONAI) or (C,) over the batch (smp)
    scores = score(probs, target, smooth=smooth, eps=eps, dims=dims)
    loss = -torch.log(scores.clamp_min(eps)) if log_loss else 1.0 - scores
    if not per_sample:
        # smp: a class absent from the whole batch has no overlap to learn; zero it but keep it in the mean
        loss = loss * (target.sum(dims) > 0).to(loss.dtype)
    if classes is not None:
        loss = loss[..., list(classes)]
    return loss.mean()


def dice_loss(logits: Tensor, target: Tensor, **options) -> Tensor:
    """Soft Dice loss, equal to smp's ``DiceLoss`` for {0, 1} targets; options as ``overlap_loss``."""
    return overlap_loss(logits, target, score=soft_dice_score, name="dice", **options)


def jaccard_loss(logits: Tensor, target: Tensor, **options) -> Tensor:
    """Soft Jaccard (IoU) loss, equal to smp's ``JaccardLoss`` for {0, 1} targets; options as ``overlap_loss``."""
    return overlap_loss(logits, target, score=soft_jaccard_score, name="jaccard", **options)
