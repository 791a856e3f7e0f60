"""Loss modules: every task shape, stability, gradients, errors, combination and configs."""

import pytest
import torch
from hydra.utils import instantiate
from torch import nn

from src.losses import (
    LOSSES,
    BCELoss,
    CCELoss,
    DiceLoss,
    HingeLoss,
    JaccardLoss,
    KLLoss,
    MSELoss,
    WeightedSumLoss,
)
from tests.conftest import compose_config, loss_options


def cases() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """One (logits, target) pair per supported layout; small so gradcheck stays fast."""
    g = torch.Generator().manual_seed(0)
    return {
        "multiclass": (torch.randn(3, 4, generator=g), torch.randint(0, 4, (3,), generator=g)),
        "binary": (torch.randn(3, generator=g), torch.randint(0, 2, (3,), generator=g)),
        "binary_n1": (torch.randn(3, 1, generator=g), torch.randint(0, 2, (3,), generator=g)),
        "multilabel": (torch.randn(3, 4, generator=g), torch.randint(0, 2, (3, 4), generator=g)),
        "seg": (torch.randn(2, 3, 3, 3, generator=g), torch.randint(0, 3, (2, 3, 3), generator=g)),
        "seg_binary": (torch.randn(2, 1, 3, 3, generator=g), torch.randint(0, 2, (2, 3, 3), generator=g)),
    }


LAYOUTS = {  # which layouts each loss serves; CCE needs >= 2 channels
    cls: [k for k in cases() if not (cls is CCELoss and k in ("binary", "binary_n1", "seg_binary", "multilabel"))]
    for cls in LOSSES
}
PAIRS = [(cls, layout) for cls, layouts in LAYOUTS.items() for layout in layouts]


@pytest.mark.parametrize(("cls", "layout"), PAIRS, ids=lambda v: getattr(v, "__name__", v))
def test_gradcheck(cls, layout) -> None:
    logits, target = cases()[layout]
    logits = logits.double().requires_grad_()
    loss = cls()
    assert torch.autograd.gradcheck(lambda x: loss(x, target), (logits,), atol=1e-5, fast_mode=True)


@pytest.mark.parametrize(("cls", "layout"), PAIRS, ids=lambda v: getattr(v, "__name__", v))
def test_extreme_logits_and_batch_of_one(cls, layout) -> None:
    logits, target = cases()[layout]
    for big in (logits.sign() * 100, logits[:1] * 100):
        big = big.clone().requires_grad_()
        loss = cls()(big, target[: len(big)])
        loss.backward()
        assert loss.ndim == 0 and torch.isfinite(loss) and torch.isfinite(big.grad).all()


def test_mse_regression_same_shape() -> None:
    pred, target = torch.randn(5, 2, 3), torch.randn(5, 2, 3)
    assert torch.allclose(MSELoss()(pred, target), nn.functional.mse_loss(pred, target))


def test_perfect_predictions_give_zero() -> None:
    target = torch.tensor([0, 2, 1])
    onehot = nn.functional.one_hot(target, 3).float()
    assert HingeLoss()(onehot * 4 - 2, target) == 0  # margins of 2 > 1 everywhere
    assert HingeLoss()(torch.tensor([3.0, -3.0]), torch.tensor([1, 0])) == 0
    assert BCELoss()(onehot * 200 - 100, target) < 1e-30
    logits = torch.randn(3, 3)
    assert KLLoss()(logits, logits.softmax(1)).abs() < 1e-6


@pytest.mark.parametrize(
    ("loss", "logits", "target", "match"),
    [
        (CCELoss(), torch.randn(4, 3), torch.randint(0, 3, (5,)), r"logits \(4, 3\) and target \(5,\)"),
        (CCELoss(), torch.randn(4, 1), torch.randint(0, 2, (4,)), "C >= 2 classes.*loss=bce"),
        (DiceLoss(), torch.randn(4, 3), torch.rand(4), "integer"),
        (BCELoss(mode="binary"), torch.randn(4, 3), torch.rand(4, 3), "binary needs logits"),
        (HingeLoss(mode="multilabel"), torch.randn(4, 3), torch.randint(0, 3, (4,)), "multilabel needs"),
        (MSELoss(), torch.randn(4, 1), torch.randn(4), r"for regression give both the same shape"),
        (KLLoss(), torch.randn(2, 3, 4, 4), torch.randint(0, 3, (2, 4, 5)), r"\(2, 4, 5\)"),
    ],
)
def test_bad_shapes_raise_useful_errors(loss, logits, target, match) -> None:
    with pytest.raises(ValueError, match=match):
        loss(logits, target)


def test_bad_options_raise() -> None:
    with pytest.raises(ValueError, match=r"mode must be one of .*'multiclass'.* got 'multi'"):
        DiceLoss(mode="multi")
    with pytest.raises(ValueError, match="classes"):
        JaccardLoss(mode="binary", classes=[1])
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\]"):
        BCELoss(label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"weight needs one value per class \(3\)"):
        CCELoss(weight=[1.0, 2.0])(torch.randn(2, 3), torch.tensor([0, 1]))


def test_weighted_sum_value_and_terms() -> None:
    logits, target = torch.randn(2, 3, 4, 4), torch.randint(0, 3, (2, 4, 4))
    loss = WeightedSumLoss({"dice": DiceLoss(), "cce": CCELoss()}, {"dice": 0.3, "cce": 2.0})
    expected = 0.3 * DiceLoss()(logits, target) + 2.0 * CCELoss()(logits, target)
    assert torch.allclose(loss(logits, target), expected)
    assert set(loss.last_terms) == {"dice", "cce"} and not loss.last_terms["cce"].requires_grad
    assert torch.allclose(loss.last_terms["cce"], CCELoss()(logits, target))
    with pytest.raises(ValueError, match="weights keys"):
        WeightedSumLoss({"dice": DiceLoss()}, {"cce": 1.0})


def test_weights_are_buffers_that_follow_dtype() -> None:
    loss = CCELoss(weight=[1.0, 2.0, 3.0]).double()
    assert loss.weight.dtype == torch.float64
    assert "weight" in dict(loss.named_buffers())


@pytest.mark.parametrize("name", loss_options())
def test_configs_instantiate(name: str) -> None:
    loss = instantiate(compose_config("train", f"loss={name}").loss)
    logits, target = torch.randn(2, 3, 4, 4), torch.randint(0, 3, (2, 4, 4))
    assert torch.isfinite(loss(logits, target))
    if name != "dice_cce":
        assert type(loss).__name__.lower() == f"{name}loss"


def test_combination_composes_its_terms_from_their_configs() -> None:
    loss = instantiate(compose_config("train", "loss=dice_cce", "loss.losses.dice.smooth=1.0").loss)
    assert set(loss.losses) == {"dice", "cce"} and loss.losses["dice"].options["smooth"] == 1.0


def test_all_configs_present() -> None:
    assert set(loss_options()) >= {"mse", "bce", "cce", "hinge", "kl", "dice", "jaccard", "dice_cce"}
