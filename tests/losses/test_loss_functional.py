"""Loss values: hand-computed small cases and torch.nn.functional references."""

import math

import pytest
import torch
import torch.nn.functional as F

from src.losses import (
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

LOG2 = math.log(2.0)


def close(value: torch.Tensor, expected: float | torch.Tensor, atol: float = 1e-6) -> bool:
    return torch.allclose(value, torch.as_tensor(expected, dtype=value.dtype), atol=atol)


# --- MSE ------------------------------------------------------------------------------------------


def test_mse_regression_matches_torch() -> None:
    pred, target = torch.randn(6, 3), torch.randn(6, 3)
    assert close(mse_loss(pred, target), F.mse_loss(pred, target))
    assert close(mse_loss(torch.tensor([1.0, 2.0]), torch.zeros(2)), 2.5)


def test_mse_brier_hand_computed() -> None:
    # softmax(0, 0) = (.5, .5) vs one-hot (1, 0): .25 + .25, summed over classes
    assert close(mse_loss(torch.zeros(1, 2), torch.tensor([0])), 0.5)
    # segmentation: same per pixel, mean over pixels
    assert close(mse_loss(torch.zeros(2, 2, 3, 3), torch.zeros(2, 3, 3, dtype=torch.long)), 0.5)
    # one channel + class labels: sigmoid(0) = .5 vs 1
    assert close(mse_loss(torch.zeros(3, 1), torch.ones(3, dtype=torch.long)), 0.25)


def test_mse_soft_brier_and_ignore() -> None:
    soft = torch.tensor([[0.5, 0.5]])
    assert close(mse_loss(torch.zeros(1, 2), soft, activation="softmax"), 0.0)
    logits, target = torch.zeros(2, 2), torch.tensor([0, -1])
    assert close(mse_loss(logits, target, ignore_index=-1), 0.5)


# --- BCE ------------------------------------------------------------------------------------------


def test_bce_hand_computed_and_smoothing() -> None:
    assert close(bce_loss(torch.zeros(4), torch.tensor([0, 1, 1, 0])), LOG2)
    x, e = 2.0, 0.2
    t = 1 - e / 2  # target 1 smoothed to 0.9
    expected = -(t * math.log(1 / (1 + math.exp(-x))) + (1 - t) * math.log(1 - 1 / (1 + math.exp(-x))))
    assert close(bce_loss(torch.tensor([[x]]), torch.tensor([1]), label_smoothing=e), expected)


def test_bce_multiclass_is_one_vs_rest() -> None:
    logits, target = torch.randn(5, 4, 3, 3), torch.randint(0, 4, (5, 3, 3))
    onehot = F.one_hot(target, 4).permute(0, 3, 1, 2).float()
    assert close(bce_loss(logits, target), F.binary_cross_entropy_with_logits(logits, onehot))


def test_bce_per_class_weights_follow_channel_dim() -> None:
    logits, target = torch.randn(2, 3, 4, 5), torch.randint(0, 2, (2, 3, 4, 5)).float()
    weight, pos_weight = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.5, 1.0, 4.0])
    # torch broadcasts per-class values over the LAST dim: move channels last for the reference
    expected = F.binary_cross_entropy_with_logits(
        logits.movedim(1, -1), target.movedim(1, -1), weight=weight, pos_weight=pos_weight
    )
    assert close(bce_loss(logits, target, weight=weight, pos_weight=pos_weight), expected)


def test_bce_ignore_index_is_masked_mean() -> None:
    logits, target = torch.tensor([0.0, 3.0, -5.0]), torch.tensor([1, 255, 255])
    assert close(bce_loss(logits, target, ignore_index=255), LOG2)


# --- CCE ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cce_matches_torch(smoothing: float) -> None:
    logits, target = torch.randn(3, 4, 5, 5), torch.randint(0, 4, (3, 5, 5))
    target[0, :2] = -100
    weight = torch.tensor([0.2, 1.0, 2.0, 0.7])
    kwargs = {"weight": weight, "label_smoothing": smoothing}
    expected = F.cross_entropy(logits, target, ignore_index=-100, **kwargs)
    assert close(cce_loss(logits, target, ignore_index=-100, **kwargs), expected, atol=1e-5)
    soft = torch.randn(3, 4, 5, 5).softmax(1)
    assert close(cce_loss(logits, soft, **kwargs), F.cross_entropy(logits, soft, **kwargs), atol=1e-5)


def test_cce_hand_computed_and_all_ignored() -> None:
    assert close(cce_loss(torch.zeros(2, 4), torch.tensor([0, 3])), math.log(4))
    logits = torch.randn(1, 3, 2, 2, requires_grad=True)
    loss = cce_loss(logits, torch.full((1, 2, 2), 255), ignore_index=255)
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(logits.grad).all()


# --- hinge ----------------------------------------------------------------------------------------


def test_hinge_binary_hand_computed() -> None:
    logits, target = torch.tensor([0.5, -2.0, 0.0]), torch.tensor([1, 0, 1])
    # y = (+1, -1, +1): max(0, 1 - .5) = .5, max(0, 1 - 2) = 0, max(0, 1 - 0) = 1
    assert close(hinge_loss(logits, target), 0.5)
    assert close(hinge_loss(logits, target, squared=True), (0.25 + 1) / 3)
    assert close(hinge_loss(logits, target, margin=2.0), (1.5 + 0 + 2) / 3)


def test_hinge_multiclass_weston_watkins() -> None:
    # true class 0 scores 1: terms max(0, 1 - 1 + 0) = 0 and max(0, 1 - 1 + .5) = .5, divided by C = 3
    assert close(hinge_loss(torch.tensor([[1.0, 0.0, 0.5]]), torch.tensor([0])), 0.5 / 3)
    logits, target = torch.randn(6, 4), torch.randint(0, 4, (6,))
    weight = torch.rand(4)
    expected = F.multi_margin_loss(logits, target, p=2, margin=0.5, weight=weight)
    assert close(hinge_loss(logits, target, squared=True, margin=0.5, weight=weight), expected)


def test_hinge_segmentation_is_per_pixel() -> None:
    logits, target = torch.randn(2, 3, 4, 4), torch.randint(0, 3, (2, 4, 4))
    rows = logits.permute(0, 2, 3, 1).reshape(-1, 3)
    assert close(hinge_loss(logits, target), F.multi_margin_loss(rows, target.reshape(-1)))


# --- KL -------------------------------------------------------------------------------------------


def test_kl_soft_targets_match_kl_div_batchmean() -> None:
    logits, q = torch.randn(5, 4), torch.randn(5, 4).softmax(1)
    expected = F.kl_div(logits.log_softmax(1), q, reduction="batchmean")
    assert close(kl_loss(logits, q), expected)


def test_kl_hard_labels_smoothing() -> None:
    logits, target = torch.randn(5, 4), torch.randint(0, 4, (5,))
    assert close(kl_loss(logits, target, epsilon=0.0), F.cross_entropy(logits, target), atol=1e-5)
    q = F.one_hot(target, 4) * 0.8 + 0.2 / 4
    expected = F.kl_div(logits.log_softmax(1), q, reduction="batchmean")
    assert close(kl_loss(logits, target, epsilon=0.2), expected)


def test_kl_zero_targets_and_segmentation() -> None:
    q = torch.tensor([[1.0, 0.0, 0.0]])
    loss = kl_loss(torch.tensor([[0.0, 0.0, 0.0]]), q)
    assert close(loss, math.log(3))  # KL(onehot || uniform) = log C, no NaN from 0 * log 0
    logits, target = torch.randn(2, 3, 4, 4), torch.randint(0, 3, (2, 4, 4))
    flat = kl_loss(logits.permute(0, 2, 3, 1).reshape(-1, 3), target.reshape(-1))
    assert close(kl_loss(logits, target), flat)


def test_kl_binary_is_bernoulli() -> None:
    logits, target = torch.randn(6), torch.randint(0, 2, (6,))
    assert close(kl_loss(logits, target, epsilon=0.0), F.binary_cross_entropy_with_logits(logits, target.float()))
    # multilabel: sum over labels, mean over samples
    logits, target = torch.randn(4, 3), torch.randint(0, 2, (4, 3))
    bce = F.binary_cross_entropy_with_logits(logits, target.float(), reduction="none").sum(1).mean()
    assert close(kl_loss(logits, target, epsilon=0.0, mode="multilabel"), bce, atol=1e-5)


# --- Dice / Jaccard -------------------------------------------------------------------------------


def test_overlap_scores_hand_computed() -> None:
    probs, target = torch.tensor([1.0, 0.5, 0.0, 0.0]), torch.tensor([1.0, 1.0, 0.0, 0.0])
    # I = 1.5, |p| = 1.5, |t| = 2: Dice = 1.5 / 1.75, Jaccard = 1.5 / (3.5 - 1.5)
    assert close(soft_dice_score(probs, target, dims=(0,)), 1.5 / 1.75)
    assert close(soft_jaccard_score(probs, target, dims=(0,)), 0.75)
    logits = probs.reshape(1, 1, 2, 2)
    mask = target.reshape(1, 1, 2, 2)
    assert close(dice_loss(logits, mask, from_logits=False), 1 - 1.5 / 1.75)
    assert close(jaccard_loss(logits, mask, from_logits=False), 0.25)
    assert close(jaccard_loss(logits, mask, from_logits=False, log_loss=True), -math.log(0.75))


def test_absent_classes_are_zeroed_and_counted() -> None:
    probs = torch.tensor([[[[0.5, 0.5]], [[0.5, 0.5]], [[0.0, 0.0]]]])  # (1, 3, 1, 2)
    target = torch.tensor([[[0, 1]]])  # class 2 absent
    # classes 0 and 1: I = .5, (|p| + |t|) / 2 = 1 -> loss .5 each; class 2 zeroed; mean over 3
    assert close(dice_loss(probs, target, from_logits=False), 1.0 / 3)
    assert close(dice_loss(probs, target, from_logits=False, classes=[0]), 0.5)


def test_per_sample_hand_computed() -> None:
    probs = torch.tensor([[[1.0, 0.0]], [[1.0, 1.0]]]).reshape(2, 1, 1, 2)
    target = torch.tensor([[[1.0, 0.0]], [[0.0, 0.0]]]).reshape(2, 1, 1, 2)
    # sample 0 perfect: (1 + 1) / (1 + 1) = 1; sample 1 empty target: (0 + 1) / (1 + 1) = .5
    loss = dice_loss(probs, target, from_logits=False, smooth=1.0, per_sample=True)
    assert close(loss, 0.25)


@pytest.mark.parametrize("fn", [dice_loss, jaccard_loss])
def test_overlap_perfect_empty_and_ignored(fn) -> None:
    target = torch.randint(0, 3, (2, 8, 8))
    perfect = F.one_hot(target, 3).permute(0, 3, 1, 2).float() * 200 - 100
    assert fn(perfect, target).item() < 1e-6
    background = torch.full((2, 1, 8, 8), -100.0)
    assert fn(background, torch.zeros(2, 1, 8, 8)).item() == 0.0  # all-background: 0, not NaN
    ignored = torch.full((2, 8, 8), 255)
    assert torch.isfinite(fn(torch.randn(2, 3, 8, 8), ignored, ignore_index=255))


def test_dice_classification_is_one_pixel_segmentation() -> None:
    logits, target = torch.randn(6, 4), torch.randint(0, 4, (6,))
    as_image = dice_loss(logits[:, :, None, None], target[:, None, None])
    assert close(dice_loss(logits, target), as_image)
