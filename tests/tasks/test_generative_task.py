"""The generative task scores validation and test in float32 whatever trainer.precision trains in."""

from functools import partial

import pytest
import torch

from src.losses.elbo import NegativeELBO
from src.models import VAEMLP
from src.tasks.generative import GenerativeTask


def _stats(task: GenerativeTask, stage: str, images: torch.Tensor, bf16: bool) -> torch.Tensor:
    """The per-image [reconstruction, KL, IW, posterior mean] row the stage queues, with one seeded z draw."""
    torch.manual_seed(0)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):  # what trainer.precision=bf16-mixed wraps
        task._step((images, torch.zeros(len(images), dtype=torch.long)), stage)
    return task.queued[stage].pop()[0]


@pytest.mark.parametrize("stage", ["val", "test"])
def test_validation_and_test_score_in_float32_under_bf16_autocast(stage: str) -> None:
    net = VAEMLP(1, (28, 28), num_classes=10, latent_size=8, hidden_sizes=[64])
    task = GenerativeTask(net, NegativeELBO(), partial(torch.optim.Adam), iw_samples=4)
    images = (torch.rand(6, 1, 28, 28) < 0.3).float()
    fp32 = _stats(task, stage, images, bf16=False)
    torch.testing.assert_close(_stats(task, stage, images, bf16=True), fp32, rtol=0, atol=0, equal_nan=True)
    # Training does run in bf16 under the same autocast, so the comparison above could fail.
    trained_bf16 = _stats(task, "train", images, bf16=True)
    assert not torch.allclose(trained_bf16[:, :2], _stats(task, "train", images, bf16=False)[:, :2], rtol=1e-4)
