"""Sample quality without downloaded weights: a Fréchet distance in the feature space of a classifier that this
project trained on the same data (torchmetrics' FrechetInceptionDistance with that classifier as its extractor)."""

from pathlib import Path

import torch
import torch.nn as nn
from hydra.utils import instantiate
from lightning.pytorch import Callback, LightningModule, Trainer
from omegaconf import OmegaConf
from torch import Tensor
from torchmetrics.image.fid import FrechetInceptionDistance
from torchvision.transforms.v2 import functional as F

from src.run.checkpoints import load_checkpoint
from src.run.directories import run_directory


class ClassifierFeatures(nn.Module):
    """images (B, C, H, W) in [0, 1] -> the classifier's penultimate features (B, num_features), normalised as
    its data module normalised its training images."""

    def __init__(self, classifier: nn.Module, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.classifier = classifier.eval().requires_grad_(False)
        self.mean, self.std = list(mean), list(std)
        self.num_features = classifier.num_features  # read by FrechetInceptionDistance

    def forward(self, images: Tensor) -> Tensor:
        return self.classifier.forward_features(F.normalize(images, self.mean, self.std))


def classifier_features(checkpoint: str) -> ClassifierFeatures:
    """The classifier of a classification run (`<run>/checkpoints/best.ckpt` beside its `.hydra/config.yaml`),
    rebuilt from the run's config with the checkpoint's weights."""
    run = run_directory(checkpoint) if Path(checkpoint).is_file() else None
    if run is None:
        raise ValueError(
            f"callbacks.fid.classifier_ckpt={checkpoint} is not a checkpoint inside a run directory; train a "
            "classifier on the same data (python -m src.train data=fashion_mnist) and pass its checkpoints/best.ckpt"
        )
    saved = OmegaConf.load(run / ".hydra" / "config.yaml")
    classifier = instantiate(saved.model)
    if not hasattr(classifier, "forward_features"):
        raise ValueError(f"{checkpoint}: model {saved.model._target_} is not a classifier with forward_features")
    load_checkpoint(checkpoint, classifier, prefix="net.")
    data = instantiate(saved.data)  # reads no file: its normalisation statistics are class constants or None
    if data.mean is None:
        raise ValueError(f"{checkpoint}: its data config {saved.data._target_} states no normalisation statistics")
    return ClassifierFeatures(classifier, data.mean, data.std)


class FrechetDistance(Callback):
    """At test, `test/fid`: the Fréchet distance between the test images (as served: binarised ones stay binary)
    and as many samples of the model, x ~ p(x|z) with z ~ N(0, I), in the features of the classifier at
    `classifier_ckpt` (null: not computed). Lower is better; 0 means the same feature mean and covariance.
    """

    def __init__(self, classifier_ckpt: str | None = None, seed: int = 0) -> None:
        self.features = classifier_features(classifier_ckpt) if classifier_ckpt else None
        self.seed = seed
        self.metric: FrechetInceptionDistance | None = None

    def on_test_epoch_start(self, trainer: Trainer, task: LightningModule) -> None:
        if self.features is not None:
            self.metric = FrechetInceptionDistance(self.features, reset_real_features=True).to(task.device)
            self.generator = torch.Generator(task.device).manual_seed(self.seed)

    def on_test_batch_end(
        self,
        trainer: Trainer,
        task: LightningModule,
        outputs: dict[str, Tensor],
        batch: tuple[Tensor, Tensor],
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if self.metric is None:
            return
        images, labels = batch
        z = torch.randn(len(images), task.net.latent_size, generator=self.generator, device=task.device)
        params = task.net.decode(z, labels if task.net.conditional else None)
        self.metric.update(images, real=True)
        self.metric.update(task.loss.sample(params, self.generator), real=False)

    def on_test_epoch_end(self, trainer: Trainer, task: LightningModule) -> None:
        if self.metric is not None:
            task.log("test/fid", self.metric.compute(), sync_dist=False)
