"""Every loss config trains a real net: the CNN classifier, and a tiny conv net on segmentation masks."""

from pathlib import Path

import lightning as L
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from src.data import DigitsDataModule
from src.models import ConvNet
from src.tasks import ClassificationTask

LOSS_CONFS = sorted((Path(__file__).parents[2] / "conf" / "loss").glob("*.yaml"))
SEGMENTATION = [path for path in LOSS_CONFS if "segmentation" in instantiate(OmegaConf.load(path)).tasks]


def loss_from(path: Path) -> torch.nn.Module:
    return instantiate(OmegaConf.load(path))


@pytest.mark.parametrize("path", LOSS_CONFS, ids=[p.stem for p in LOSS_CONFS])
def test_cnn_classifier_learns_with_every_loss(path: Path) -> None:
    L.seed_everything(0)
    datamodule = DigitsDataModule(
        batch_size=64, val_size=180, test_size=360, seed=0, num_classes=10, in_channels=1, image_size=[8, 8]
    )
    net = ConvNet(1, (8, 8), 10, channels=[16, 32], hidden_size=32)
    task = ClassificationTask(net, loss_from(path), optimizer=lambda p: torch.optim.Adam(p, lr=3e-3), num_classes=10)
    trainer = L.Trainer(max_epochs=3, limit_val_batches=0, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")  # fmt: skip
    trainer.fit(task, datamodule=datamodule)
    accuracy = trainer.test(task, datamodule=datamodule, verbose=False)[0]["test/acc"]
    assert accuracy > 0.6, f"{path.stem}: test accuracy {accuracy:.2f} after 3 epochs on the digits"


def _segmentation_batch(num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Images whose channel c is bright where the mask is class c: learnable in a few steps."""
    generator = torch.Generator().manual_seed(0)
    masks = torch.randint(0, num_classes, (8, 16, 16), generator=generator)
    images = torch.nn.functional.one_hot(masks, num_classes).permute(0, 3, 1, 2).float()
    return images + 0.3 * torch.randn(images.shape, generator=generator), masks


@pytest.mark.parametrize("path", SEGMENTATION, ids=[p.stem for p in SEGMENTATION])
def test_segmentation_shaped_training_lowers_every_segmentation_loss(path: Path) -> None:
    torch.manual_seed(0)
    images, masks = _segmentation_batch(num_classes=3)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 3, 1))
    loss_fn = loss_from(path)
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-2)
    losses = []
    for _ in range(60):
        optimizer.zero_grad()
        loss = loss_fn(net(images), masks)  # logits (N, C, H, W) against masks (N, H, W)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], f"{path.stem}: {losses[0]:.3f} -> {losses[-1]:.3f}"
