"""Dataset-level segmentation scores against values computed by hand and torchmetrics' per-class Jaccard."""

import math

import pytest
import torch
from torchmetrics.classification import MulticlassJaccardIndex

from src.tasks import SegmentationScores

# Two 2x3 masks, 3 classes. Image 1 truth/prediction, image 2 truth/prediction.
TRUTH = torch.tensor([[[0, 0, 1], [1, 2, 2]], [[0, 0, 0], [1, 1, 1]]])
PREDICTED = torch.tensor([[[0, 1, 1], [1, 2, 0]], [[0, 0, 0], [1, 1, 2]]])


def scores(*batches: tuple[torch.Tensor, torch.Tensor], **kwargs) -> dict[str, torch.Tensor]:
    metric = SegmentationScores(3, **kwargs)
    for predicted, truth in batches:
        metric.update(predicted, truth)
    return metric.compute()


def test_scores_over_the_split_equal_hand_counts() -> None:
    # Pixel pairs (true, predicted) over both images: class 0: 5 true, 5 predicted, 4 hits;
    # class 1: 5 true, 5 predicted, 4 hits; class 2: 2 true, 2 predicted, 1 hit. 12 pixels, 9 right.
    result = scores((PREDICTED[:1], TRUTH[:1]), (PREDICTED[1:], TRUTH[1:]))  # two batches, one split
    iou = torch.tensor([4 / 6, 4 / 6, 1 / 3])
    dice = torch.tensor([8 / 10, 8 / 10, 2 / 4])
    assert torch.allclose(result["iou_per_class"], iou)
    assert result["miou"] == pytest.approx(float(iou.mean()))
    assert result["mdice"] == pytest.approx(float(dice.mean()))
    assert result["pixel_acc"] == pytest.approx(9 / 12)
    # Objects (classes 1 and 2 merged) against background: 7 true, 7 predicted, 6 object-as-object.
    assert result["foreground_iou"] == pytest.approx(6 / 8)
    reference = MulticlassJaccardIndex(3, average=None)(PREDICTED, TRUTH)
    assert torch.allclose(result["iou_per_class"], reference)


def test_split_level_is_not_the_mean_of_per_batch_scores() -> None:
    first = scores((PREDICTED[:1], TRUTH[:1]))["miou"]
    second = scores((PREDICTED[1:], TRUTH[1:]))["miou"]
    whole = scores((PREDICTED, TRUTH))["miou"]
    assert not math.isclose(float(whole), float(first + second) / 2, abs_tol=1e-3)


def test_ignored_pixels_count_nowhere() -> None:
    truth = TRUTH.clone()
    truth[0, 0, 1] = 255  # the one pixel predicted 1 where the truth was 0
    result = scores((PREDICTED, truth), ignore_index=255)
    # class 0: 4 true, 5 predicted, 4 hits; class 1: 5 true, 4 predicted (the ignored pixel's 1 no longer
    # counts), 4 hits.
    assert result["iou_per_class"][0] == pytest.approx(4 / 5)
    assert result["iou_per_class"][1] == pytest.approx(4 / 5)
    assert result["pixel_acc"] == pytest.approx(9 / 11)


def test_a_class_absent_from_truth_and_prediction_is_left_out_of_the_mean() -> None:
    truth = torch.tensor([[[0, 1], [1, 0]]])
    result = scores((truth.clone(), truth))  # perfect, and class 2 appears nowhere
    assert math.isnan(float(result["iou_per_class"][2]))
    assert result["miou"] == pytest.approx(1.0) and result["mdice"] == pytest.approx(1.0)


def test_a_class_predicted_but_absent_from_the_truth_scores_zero() -> None:
    truth = torch.tensor([[[0, 1], [1, 0]]])
    predicted = torch.tensor([[[0, 1], [1, 2]]])
    result = scores((predicted, truth))
    assert result["iou_per_class"][2] == pytest.approx(0.0)
    assert result["miou"] == pytest.approx((1 / 2 + 1 + 0) / 3)
