"""Thin ``nn.Module`` wrappers over ``functional``: they hold the options and declare their tasks.

Every loss is called as ``loss(logits, target)`` on raw network outputs; see ``functional`` for shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

import torch
from torch import Tensor, nn

from src.losses import functional as LF
from src.losses._shapes import MODES, check_choice, check_fraction


def _as_tensor(values: Sequence[float] | Tensor | None, what: str, name: str) -> Tensor | None:
    """Per-class values from YAML (list / ListConfig) or a tensor -> 1-D float tensor."""
    if values is None or isinstance(values, Tensor):
        return values
    try:
        return torch.tensor([float(v) for v in values])
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name}: {what} must be a list of numbers (one per class), got {values!r}") from error


class FunctionalLoss(nn.Module):
    """Calls ``fn(logits, target, **options)``; per-class tensors are buffers so they follow ``.to()``.

    Which tasks a loss fits is not declared here: a task probes the loss with outputs and targets of its own
    shapes (``Task.check_fits``), and the shape checks of ``functional`` accept or refuse them.
    """

    fn: ClassVar[Callable[..., Tensor]]

    def __init__(self, tensors: dict[str, Sequence[float] | Tensor | None], **options) -> None:
        super().__init__()
        self.options = options
        self.tensor_names = tuple(tensors)
        for key, values in tensors.items():
            # Not persistent: the values come from the config, and checkpoints should hold only the net's state.
            self.register_buffer(key, _as_tensor(values, key, type(self).__name__), persistent=False)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        """logits (N, C, *S) / (N,) raw outputs, target (see ``functional``) -> scalar loss."""
        tensors = {key: getattr(self, key) for key in self.tensor_names}
        return type(self).fn(logits, target, **tensors, **self.options)

    def extra_repr(self) -> str:
        return ", ".join(f"{key}={value!r}" for key, value in self.options.items())


class MSELoss(FunctionalLoss):
    """Mean squared error; the Brier score for classification.

    Regression: ``F.mse_loss(pred, target)`` on same-shape tensors (mean over elements).
    Classification/segmentation with class indices (N, *S): Brier score
    ``mean_over_samples_and_pixels(sum_c (softmax(logits)_c - onehot_c)^2)`` (sigmoid vs labels for
    1-channel logits). Use for regression, or as a bounded, calibration-oriented classification loss.

    Options: ``activation`` "auto" (softmax for class indices, identity when the target has the
    prediction's shape) | "softmax" (soft-target Brier: summed over classes) | "sigmoid" | None;
    ``ignore_index`` (class-index targets only).
    """

    fn = staticmethod(LF.mse_loss)

    def __init__(self, activation: str | None = "auto", ignore_index: int | None = None) -> None:
        check_choice(activation, LF.ACTIVATIONS, "activation", "MSELoss")
        super().__init__({}, activation=activation, ignore_index=ignore_index)


class BCELoss(FunctionalLoss):
    """Binary cross-entropy on logits, ``F.binary_cross_entropy_with_logits`` per output, mean.

    Binary (N,) / (N, 1, *S) and multi-label (N, C, *S) targets are used as given; class indices with
    C-channel logits become one-hot, i.e. C one-vs-rest problems, so ``loss=bce`` trains a multi-class
    classifier or segmenter. Stable for logits of +-100.

    Options: ``mode`` auto|binary|multiclass|multilabel; ``weight``/``pos_weight`` (C,) per class,
    broadcast over dim 1 (not torch's last dim); ``label_smoothing`` e: t*(1-e) + e/2;
    ``ignore_index``: mean over the kept elements only.
    """

    fn = staticmethod(LF.bce_loss)

    def __init__(
        self,
        mode: str = "auto",
        weight: Sequence[float] | Tensor | None = None,
        pos_weight: Sequence[float] | Tensor | None = None,
        label_smoothing: float = 0.0,
        ignore_index: int | None = None,
    ) -> None:
        check_choice(mode, ("auto", *MODES), "mode", "BCELoss")
        check_fraction(label_smoothing, "label_smoothing", "BCELoss")
        tensors = {"weight": weight, "pos_weight": pos_weight}
        super().__init__(tensors, mode=mode, label_smoothing=label_smoothing, ignore_index=ignore_index)


class CCELoss(FunctionalLoss):
    """Categorical cross-entropy, ``F.cross_entropy`` over the class dim 1.

    ``-sum_c q_c log softmax(logits)_c``, mean over samples/pixels; q is the one-hot of class indices
    (N, *S) or given probabilities (N, C, *S). The default for multi-class classification and
    segmentation. Needs C >= 2 channels (use BCE for one output). Stable for logits of +-100.

    Options: ``weight`` (C,) (weighted mean, as torch), ``ignore_index`` (None = nothing ignored; a batch
    with every pixel ignored gives 0, not torch's NaN), ``label_smoothing``.
    """

    fn = staticmethod(LF.cce_loss)

    def __init__(
        self,
        weight: Sequence[float] | Tensor | None = None,
        ignore_index: int | None = None,
        label_smoothing: float = 0.0,
    ) -> None:
        check_fraction(label_smoothing, "label_smoothing", "CCELoss")
        super().__init__({"weight": weight}, ignore_index=ignore_index, label_smoothing=label_smoothing)


class HingeLoss(FunctionalLoss):
    """SVM hinge loss (not ``nn.HingeEmbeddingLoss``).

    Binary/multi-label: ``mean(max(0, margin - y * f))`` with y = 2t - 1 in {-1, +1}. Multi-class:
    Weston-Watkins ``F.multi_margin_loss``: ``sum_{i != y} max(0, margin - f_y + f_i) / C`` per sample,
    per pixel for segmentation (channels moved last and flattened). Use for max-margin classifiers.

    Options: ``mode``; ``margin``; ``squared`` (squared hinge, p=2); ``weight`` (C,) per output
    (binary/multi-label) or per true class (multi-class, as torch); ``ignore_index``.
    """

    fn = staticmethod(LF.hinge_loss)

    def __init__(
        self,
        mode: str = "auto",
        margin: float = 1.0,
        squared: bool = False,
        weight: Sequence[float] | Tensor | None = None,
        ignore_index: int | None = None,
    ) -> None:
        check_choice(mode, ("auto", *MODES), "mode", "HingeLoss")
        options = {"mode": mode, "margin": margin, "squared": squared, "ignore_index": ignore_index}
        super().__init__({"weight": weight}, **options)


class KLLoss(FunctionalLoss):
    """KL divergence ``KL(q || softmax(logits)) = sum_c q_c (log q_c - log p_c)`` per sample.

    Mean over samples (= ``F.kl_div(log_softmax, q, reduction="batchmean")``, never the per-element
    mean) and over pixels for segmentation. Hard labels become q = (1-eps)*onehot + eps/C (eps=0 equals
    cross-entropy); soft targets (N, C, *S) are used as given (distillation, label distributions).
    Binary/multi-label: Bernoulli KL per output with q = t*(1-eps) + eps/2, summed over outputs.
    q = 0 entries contribute 0 (xlogy), not NaN.

    Options: ``mode``; ``epsilon`` (default 0.1); ``ignore_index`` (hard labels).
    """

    fn = staticmethod(LF.kl_loss)

    def __init__(self, mode: str = "auto", epsilon: float = 0.1, ignore_index: int | None = None) -> None:
        check_choice(mode, ("auto", *MODES), "mode", "KLLoss")
        check_fraction(epsilon, "epsilon", "KLLoss")
        super().__init__({}, mode=mode, epsilon=epsilon, ignore_index=ignore_index)


class _OverlapLoss(FunctionalLoss):
    """Options shared by Dice and Jaccard; the subclasses only swap the score (``fn``)."""

    def __init__(
        self,
        mode: str = "auto",
        from_logits: bool = True,
        smooth: float = 0.0,
        eps: float = 1e-7,
        ignore_index: int | None = None,
        classes: Sequence[int] | None = None,
        log_loss: bool = False,
        per_sample: bool = False,
    ) -> None:
        name = type(self).__name__
        check_choice(mode, ("auto", *MODES), "mode", name)
        if smooth < 0 or eps <= 0:
            raise ValueError(f"{name}: need smooth >= 0 and eps > 0, got smooth={smooth!r}, eps={eps!r}")
        if classes is not None and mode == "binary":
            raise ValueError(f"{name}: classes={classes!r} is not allowed with mode='binary' (one channel)")
        classes = None if classes is None else [int(c) for c in classes]
        options = {"mode": mode, "from_logits": from_logits, "smooth": smooth, "eps": eps}
        options |= {"ignore_index": ignore_index, "log_loss": log_loss, "per_sample": per_sample}
        super().__init__({}, classes=classes, **options)


_OVERLAP_DOC = """

    Per class c over the whole batch (smp): probabilities p (softmax for multiclass, sigmoid otherwise,
    skipped with ``from_logits=False``), one-hot / binary target t, I = sum(p*t), |p| = sum(p).
    Loss per class = 1 - score (or -log(max(score, eps)) with ``log_loss``); classes absent from the
    batch's target are zeroed but still counted in the mean over (selected) classes, so an all-background
    batch gives no NaN. Equal to segmentation_models_pytorch 0.6 on the same inputs and settings for
    {0, 1} targets (smp's L1 form of I differs from sum(p*t) only for soft targets).
    Classification (N, C) + (N,) is multiclass with one pixel per sample (soft Dice of class probs).

    Options: ``mode`` auto|binary|multiclass|multilabel; ``from_logits``; ``smooth`` s; ``eps`` (floor of
    the denominator); ``ignore_index`` (pixels dropped from both p and t); ``classes`` (channel subset,
    not in binary mode); ``log_loss``; ``per_sample`` (MONAI-style ``batch=False``: score per
    (sample, class), mean over both, no zeroing of absent classes, so an absent class predicted absent
    scores 1 only through ``smooth`` > 0 - set e.g. smooth=1 with it).
    """


class DiceLoss(_OverlapLoss):
    __doc__ = "Soft Dice loss: score = (I + s) / max((|p| + |t|) / 2 + s, eps)." + _OVERLAP_DOC
    fn = staticmethod(LF.dice_loss)


class JaccardLoss(_OverlapLoss):
    __doc__ = "Soft Jaccard (IoU) loss: score = (I + s) / max(|p| + |t| - I + s, eps)." + _OVERLAP_DOC
    fn = staticmethod(LF.jaccard_loss)


LOSSES: tuple[type[FunctionalLoss], ...] = (
    MSELoss,
    BCELoss,
    CCELoss,
    HingeLoss,
    KLLoss,
    DiceLoss,
    JaccardLoss,
)
