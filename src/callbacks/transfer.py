"""Transfer learning as a callback: a source's backbone, frozen for some epochs or for good, its features cached.

Why not Lightning's BackboneFinetuning: it adds the backbone's parameter group when it unfreezes, which the
project's schedulers cannot follow (OneCycleLR reads `initial_lr`/`max_lr` of every group, CosineAnnealingLR
zips `base_lrs` with the groups strictly), it sets the backbone's learning rate itself, against the scheduler,
and it freezes again on resume (Lightning #21901). Here the optimiser holds every parameter from the start
(`Task.configure_optimizers`); a frozen parameter gets no gradient, so the optimiser skips it, and whether the
backbone is frozen follows from the epoch alone, so a resumed run is frozen exactly when a straight one was.
"""

import hashlib
from collections.abc import Callable
from pathlib import Path

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from torch import Tensor

from src.run.checkpoints import load_checkpoint


class BackboneTransfer(Callback):
    """Start the task's backbone from a source, keep it frozen for `freeze_epochs`, and cache its features.

    source_ckpt: a Lightning checkpoint of a run with the same model; when a fit starts (not when it resumes,
    nor at evaluation) its `net.backbone.*` tensors are loaded (weights_only), the head stays new. None: the
    model's own pretrained weights (e.g. model.weights=package). from_scratch: no source at all, the baseline
    (fails if the model is pretrained).
    freeze_epochs: 0 trains everything from the start (finetune); k freezes the backbone for the first k
    epochs (gradual); None for good (freeze). A frozen backbone gets no gradients and runs in eval mode: its
    weights and BatchNorm statistics stay the source's, and its dropout is off.
    cache_features: while the backbone is frozen, the training and validation steps compute its features of an
    image once, the first time they meet it, and look them up afterwards: from the second epoch on the head
    trains at the speed of a linear model. Exact, as a frozen backbone in eval mode maps an image to the same
    features every time (augmented images are new images, so freeze turns augmentation off). Images are keyed
    by a hash of their preprocessed pixels; runs that see a fraction of a split compute no more than they see.
    """

    def __init__(
        self,
        source_ckpt: str | None = None,
        from_scratch: bool = False,
        freeze_epochs: int | None = 0,
        cache_features: bool = False,
    ) -> None:
        if source_ckpt and from_scratch:
            raise ValueError("transfer=scratch starts from random weights: drop transfer.source_ckpt")
        if freeze_epochs is not None and freeze_epochs < 0:
            raise ValueError(f"transfer.freeze_epochs must be >= 0 or null (frozen for good), got {freeze_epochs}")
        self.source_ckpt = source_ckpt
        self.from_scratch = from_scratch
        self.freeze_epochs = freeze_epochs
        self.cache_features = cache_features
        self.cache: dict[bytes, Tensor] = {}
        self.hits = self.misses = 0
        self._in_step = False

    def setup(self, trainer: Trainer, task: LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        pretrained = getattr(task.net, "pretrained", False)
        if self.from_scratch and pretrained:
            raise ValueError("transfer=scratch trains from random weights, but the model loads pretrained ones: "
                             "set model.weights=null model.weights_path=null")  # fmt: skip
        if not (self.from_scratch or self.source_ckpt or pretrained):
            raise ValueError(
                "transfer needs a source: transfer.source_ckpt=<source run>/checkpoints/best.ckpt, or a model "
                "with pretrained weights (e.g. model=efficientnet_lite0 model.weights=package)"
            )

    def frozen(self, epoch: int) -> bool:
        return self.freeze_epochs is None or epoch < self.freeze_epochs

    def on_fit_start(self, trainer: Trainer, task: LightningModule) -> None:
        # The source matters only to a fit that starts from it: evaluation and a resumed run (whose checkpoint,
        # restored by now, holds its own weights) need no source file.
        if self.source_ckpt and not trainer.ckpt_path:
            if not Path(self.source_ckpt).is_file():
                raise FileNotFoundError(
                    f"transfer.source_ckpt={self.source_ckpt} does not exist; train the source first "
                    "(transfer=source) and pass its <run>/checkpoints/best.ckpt"
                )
            load_checkpoint(self.source_ckpt, task.net.backbone, prefix="net.backbone.")  # in place: the optimiser
            # holds the same tensors
        # After configure_optimizers, so that the optimiser holds the backbone's parameters for later.
        task.backbone.requires_grad_(not self.frozen(trainer.current_epoch))

    def on_train_epoch_start(self, trainer: Trainer, task: LightningModule) -> None:
        frozen = self.frozen(trainer.current_epoch)
        task.backbone.requires_grad_(not frozen)
        task.backbone.train(not frozen)  # the evaluation loops restore this mode after they run
        cached = "forward_features" in vars(task.net)
        if frozen and self.cache_features and not cached:
            # An instance attribute shadows the method: the checkpoint's state dict is untouched.
            task.net.forward_features = self._cached(task.net.forward_features)
        elif not frozen and cached:
            self._drop_cache(task)

    def _cached(self, live: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
        def forward_features(images: Tensor) -> Tensor:
            """images (B, C, H, W) -> features (B, num_features), from the cache inside training/validation steps."""
            if not self._in_step:
                return live(images)
            keys = _keys(images)
            missing = [i for i, key in enumerate(keys) if key not in self.cache]
            if missing:
                with torch.no_grad():
                    self.cache.update(zip([keys[i] for i in missing], live(images[missing]), strict=True))
            self.misses += len(missing)
            self.hits += len(keys) - len(missing)
            return torch.stack([self.cache[key] for key in keys])

        return forward_features

    def _drop_cache(self, task: LightningModule) -> None:
        task.net.__dict__.pop("forward_features", None)
        self.cache.clear()

    # The cache serves the steps only: pictures and other callbacks see the net as it is.
    def on_train_batch_start(self, *args: object) -> None:
        self._in_step = True

    def on_train_batch_end(self, *args: object) -> None:
        self._in_step = False

    def on_validation_batch_start(self, *args: object) -> None:
        self._in_step = True

    def on_validation_batch_end(self, *args: object) -> None:
        self._in_step = False

    def teardown(self, trainer: Trainer, task: LightningModule, stage: str) -> None:
        self._drop_cache(task)


def _keys(images: Tensor) -> list[bytes]:
    """One 16-byte digest of each image's pixels: (B, ...) -> B keys."""
    rows = images.detach().cpu().contiguous().view(len(images), -1).numpy()
    return [hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in rows]
