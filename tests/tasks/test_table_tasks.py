"""Regression, binary and multi-label tasks: metrics against values worked out by hand, targets in their units."""

import functools

import pytest
import torch
import torch.nn as nn

from src.losses import BCELoss, DiceLoss, MSELoss
from src.tasks import BinaryClassificationTask, MultiLabelTask, RegressionTask

ADAM = functools.partial(torch.optim.Adam, lr=1e-3)


def scores(task, logits: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    task.val_metrics.update(task.predict(logits), targets)
    return {key: value.tolist() for key, value in task.val_metrics.compute().items()}


def test_regression_learns_standardised_targets_and_scores_in_their_units() -> None:
    task = RegressionTask(nn.Linear(3, 1), MSELoss(), ADAM, num_targets=1)
    task.target_mean.fill_(10.0)
    task.target_std.fill_(2.0)
    targets = torch.tensor([[10.0], [14.0]])
    assert torch.equal(task.loss_targets(targets), torch.tensor([[0.0], [2.0]]))
    assert torch.allclose(task.predict(task.loss_targets(targets)), targets)  # the round trip
    # Predictions 10 and 12 against 10 and 14: errors 0 and 2 in the targets' units.
    values = scores(task, torch.tensor([[0.0], [1.0]]), targets)
    assert values["rmse"] == pytest.approx(2**0.5) and values["mae"] == pytest.approx(1.0)
    assert values["r2"] == pytest.approx(0.5)  # 1 - 4 / 8
    several = RegressionTask(nn.Linear(3, 2), MSELoss(), ADAM, num_targets=2)
    assert torch.tensor(scores(several, torch.zeros(3, 2), torch.tensor([[0.0, 1], [0, 1], [0, 4]]))["mae"]).allclose(
        torch.tensor([0.0, 2.0])
    )


def test_regression_refuses_a_loss_that_does_not_score_real_values() -> None:
    class Table:
        num_features = 3

        def example_inputs(self, batch_size: int) -> torch.Tensor:
            return torch.zeros(batch_size, 3)

    names = {"model": "model=mlp", "data": "data=t", "loss": "loss=dice"}
    RegressionTask(nn.Linear(3, 1), MSELoss(), ADAM, num_targets=1).check_fits(Table(), names)
    for loss in (DiceLoss(), BCELoss()):
        with pytest.raises(ValueError, match="cannot train the regression task of data=t: it does not score real"):
            RegressionTask(nn.Linear(3, 1), loss, ADAM, num_targets=1).check_fits(Table(), names)


def test_binary_metrics_match_hand_computed_values() -> None:
    task = BinaryClassificationTask(nn.Linear(3, 1), BCELoss(), ADAM)
    probabilities = torch.tensor([0.9, 0.2, 0.6, 0.4])
    values = scores(task, torch.logit(probabilities)[:, None], torch.tensor([1, 0, 0, 1]))
    assert values["acc"] == pytest.approx(0.5)  # predicted 1, 0, 1, 0 at probability 0.5
    assert values["auroc"] == pytest.approx(0.75)  # 3 of the 4 positive-negative pairs ranked right
    assert values["f1"] == pytest.approx(0.5)  # one hit, one false alarm, one miss
    # Ten bins, one sample each: |1 - 0.9| + |0 - 0.2| + |0 - 0.6| + |1 - 0.4|, over 4.
    assert values["ece"] == pytest.approx(0.375)


def test_multilabel_metrics_match_hand_computed_values() -> None:
    task = MultiLabelTask(nn.Linear(3, 2), BCELoss(), ADAM, num_classes=2)
    probabilities = torch.tensor([[0.9, 0.2], [0.8, 0.7], [0.3, 0.6], [0.1, 0.9]])
    targets = torch.tensor([[1, 0], [0, 1], [1, 1], [0, 0]])
    values = scores(task, torch.logit(probabilities), targets)
    # Label 0 ranks 1, 0, 1, 0: AP = (1/1 + 2/3) / 2; label 1 ranks 0, 1, 1, 0: AP = (1/2 + 2/3) / 2.
    assert values["map"] == pytest.approx([5 / 6, 7 / 12])
    # At 0.5: label 0 one hit, one false alarm, one miss (F1 1/2); label 1 two hits, one false alarm (F1 4/5).
    assert values["f1_macro"] == pytest.approx(0.65)
    assert values["f1_micro"] == pytest.approx(2 / 3)  # 3 hits, 2 false alarms, 1 miss


def test_mirror_average_is_refused_where_a_mirror_is_meaningless() -> None:
    class Table:
        inputs = "feature vectors"

    names = {"model": "model=mlp", "data": "data=t", "loss": "loss=bce"}
    with pytest.raises(ValueError, match=r"task\.mirror_average=true .* not the multilabel task of data=t; leave it"):
        MultiLabelTask(nn.Linear(3, 2), BCELoss(), ADAM, num_classes=2, mirror_average=True).check_fits(Table(), names)
