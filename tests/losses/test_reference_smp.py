"""Dice and Jaccard equal segmentation_models_pytorch's losses on the same inputs and settings."""

import itertools

import pytest
import segmentation_models_pytorch.losses as smp_losses  # dev extra: the reference implementation
import torch

from src.losses import DiceLoss, JaccardLoss

IGNORE = 255


def inputs(mode: str, ignore: bool, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random (logits, target) for smp's layouts; a quarter of the pixels ignored when ``ignore``."""
    g = torch.Generator().manual_seed(seed)
    channels = 1 if mode == "binary" else 4
    logits = torch.randn(3, channels, 6, 5, generator=g) * 3
    if mode == "multiclass":
        target = torch.randint(0, 3, (3, 6, 5), generator=g)  # class 3 absent: its term is zeroed
    else:
        target = torch.randint(0, 2, (3, channels, 6, 5), generator=g)
        target[:, -1] = 0  # an empty channel
    if ignore:
        target[torch.rand(target.shape, generator=g) < 0.25] = IGNORE
    return logits, target


GRID = list(itertools.product([0.0, 1.0], [False, True], [None, [0, 2]], [False, True]))


@pytest.mark.parametrize("ours, theirs", [(DiceLoss, "DiceLoss"), (JaccardLoss, "JaccardLoss")])
@pytest.mark.parametrize("mode", ["binary", "multiclass", "multilabel"])
@pytest.mark.parametrize("from_logits", [True, False])
def test_matches_smp(ours, theirs, mode: str, from_logits: bool) -> None:
    for seed, (smooth, ignore, classes, log_loss) in enumerate(GRID):
        if mode == "binary" and classes is not None:
            continue
        logits, target = inputs(mode, ignore, seed)
        if not from_logits:
            logits = logits.sigmoid()
        options = {
            "from_logits": from_logits,
            "smooth": smooth,
            "ignore_index": IGNORE if ignore else None,
            "classes": classes,
            "log_loss": log_loss,
        }
        expected = getattr(smp_losses, theirs)(mode=mode, **options)(logits, target)
        got = ours(mode=mode, **options)(logits, target)
        assert torch.allclose(got, expected, atol=1e-5), (options, got, expected)
        if mode != "binary":  # auto mode infers the same from shapes and dtypes
            assert torch.allclose(ours(**options)(logits, target), expected, atol=1e-5)


def test_classification_shapes_match_smp_one_pixel() -> None:
    logits, target = torch.randn(8, 5), torch.randint(0, 5, (8,))
    expected = smp_losses.DiceLoss(mode="multiclass")(logits[:, :, None], target[:, None])
    assert torch.allclose(DiceLoss()(logits, target), expected, atol=1e-6)
