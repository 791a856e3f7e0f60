"""Losses on raw network outputs: ``loss(logits, target)`` for classification, segmentation, regression."""

from src.losses.combine import WeightedSumLoss
from src.losses.functional import (
    bce_loss,
    cce_loss,
    dice_loss,
    hinge_loss,
    jaccard_loss,
    kl_loss,
    mse_loss,
    soft_dice_score,
    soft_jaccard_score,
)
from src.losses.modules import (
    LOSSES,
    BCELoss,
    CCELoss,
    DiceLoss,
    HingeLoss,
    JaccardLoss,
    KLLoss,
    MSELoss,
)

__all__ = [
    "LOSSES",
    "BCELoss",
    "CCELoss",
    "DiceLoss",
    "HingeLoss",
    "JaccardLoss",
    "KLLoss",
    "MSELoss",
    "WeightedSumLoss",
    "bce_loss",
    "cce_loss",
    "dice_loss",
    "hinge_loss",
    "jaccard_loss",
    "kl_loss",
    "mse_loss",
    "soft_dice_score",
    "soft_jaccard_score",
]
