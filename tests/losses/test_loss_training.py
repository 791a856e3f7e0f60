"""Every loss config trains a real net: the CNN classifier, and a tiny conv net on segmentation masks."""

import lightning as L
import pytest
import torch
from hydra.utils import instantiate

from src.data import DigitsDataModule
from src.models import ConvNet
from src.tasks import ClassificationTask
from tests.conftest import compose_config, loss_options


def loss_from(name: str) -> torch.nn.Module:
    return instantiate(compose_config("train", f"loss={name}").loss)


@pytest.mark.parametrize("name", loss_options())
def test_cnn_classifier_learns_with_every_loss(name: str) -> None:
    L.seed_everything(0)
    datamodule = DigitsDataModule(
        batch_size=64, val_size=180, test_size=360, seed=0, num_classes=10, in_channels=1, image_size=[8, 8]
    )
    net = ConvNet(1, (8, 8), 10, channels=[16, 32], hidden_size=32)
    task = ClassificationTask(net, loss_from(name), optimizer=lambda p: torch.optim.Adam(p, lr=3e-3), num_classes=10)
    trainer = L.Trainer(max_epochs=3, limit_val_batches=0, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")  # fmt: skip
    trainer.fit(task, datamodule=datamodule)
    accuracy = trainer.test(task, datamodule=datamodule, verbose=False)[0]["test/acc"]
    assert accuracy > 0.6, f"{name}: test accuracy {accuracy:.2f} after 3 epochs on the digits"


def _segmentation_batch(num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Images whose channel c is bright where the mask is class c: learnable in a few steps."""
    generator = torch.Generator().manual_seed(0)
    masks = torch.randint(0, num_classes, (8, 16, 16), generator=generator)
    images = torch.nn.functional.one_hot(masks, num_classes).permute(0, 3, 1, 2).float()
    return images + 0.3 * torch.randn(images.shape, generator=generator), masks


@pytest.mark.parametrize("name", loss_options())
def test_segmentation_shaped_training_lowers_every_segmentation_loss(name: str) -> None:
    torch.manual_seed(0)
    images, masks = _segmentation_batch(num_classes=3)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 3, 1))
    loss_fn = loss_from(name)
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-2)
    losses = []
    for _ in range(60):
        optimizer.zero_grad()
        loss = loss_fn(net(images), masks)  # logits (N, C, H, W) against masks (N, H, W)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], f"{name}: {losses[0]:.3f} -> {losses[-1]:.3f}"
