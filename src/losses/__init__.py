"""Losses on raw network outputs: ``loss(logits, target)`` for classification, segmentation, regression; the
negative ELBO ``loss(vae_output, images)`` for VAEs."""

from src.losses.combine import WeightedSumLoss
from src.losses.elbo import LIKELIHOODS, NegativeELBO, importance_weighted_nll
from src.losses.functional import (
    bce_loss,
    cce_loss,
    dice_loss,
    gaussian_kl,
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
    "LIKELIHOODS",
    "LOSSES",
    "BCELoss",
    "CCELoss",
    "DiceLoss",
    "HingeLoss",
    "JaccardLoss",
    "KLLoss",
    "MSELoss",
    "NegativeELBO",
    "WeightedSumLoss",
    "bce_loss",
    "cce_loss",
    "dice_loss",
    "gaussian_kl",
    "hinge_loss",
    "importance_weighted_nll",
    "jaccard_loss",
    "kl_loss",
    "mse_loss",
    "soft_dice_score",
    "soft_jaccard_score",
]
