"""Transfer strategies on the real digits data: what loads, what stays frozen, what the optimiser and the
schedulers see, what survives a resume, and the cache of frozen features.
"""

from functools import partial
from pathlib import Path

import lightning as L
import pytest
import torch
import torch.nn as nn
from lightning.pytorch.callbacks import Callback
from torch.optim.lr_scheduler import CosineAnnealingLR, OneCycleLR

from src.callbacks import BackboneTransfer
from src.data import DigitsDataModule
from src.losses import CCELoss
from src.models import MLP, ConvNet
from src.run.build import build
from src.tasks import ClassificationTask
from tests.conftest import compose_config

LR = 3e-3
SCHEDULERS = {
    "one_cycle": {"scheduler": partial(OneCycleLR, max_lr=LR, total_steps=None), "interval": "step"},
    "cosine": {"scheduler": partial(CosineAnnealingLR, T_max=None), "interval": "epoch"},
    "none": None,
}


def digits() -> DigitsDataModule:
    return DigitsDataModule(
        batch_size=64, val_size=180, test_size=360, seed=0, num_classes=10, in_channels=1, image_size=[8, 8]
    )


def digits_train_and_val() -> torch.Tensor:
    data = digits()
    data.setup()
    return torch.cat([data.splits[split].tensors[0] for split in ("train", "val")])


def cnn() -> ConvNet:
    return ConvNet(1, (8, 8), 10, channels=[8, 16], hidden_size=16, dropout=0.2)


def task(net: nn.Module | None = None, scheduler: str = "none", scale: float = 1.0) -> ClassificationTask:
    optimizer = partial(torch.optim.AdamW, lr=LR)
    return ClassificationTask(
        net or cnn(), CCELoss(), optimizer, 10, scheduler=SCHEDULERS[scheduler], backbone_lr_scale=scale
    )


def trainer(*callbacks: Callback, epochs: int = 2, **kwargs) -> L.Trainer:
    options = {"logger": False, "enable_checkpointing": False, "enable_progress_bar": False}
    return L.Trainer(accelerator="cpu", max_epochs=epochs, enable_model_summary=False, callbacks=list(callbacks),
                     **{**options, **kwargs})  # fmt: skip


@pytest.fixture(scope="module")
def source_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    L.seed_everything(0)
    run = trainer(epochs=2)
    run.fit(task(), datamodule=digits())
    path = tmp_path_factory.mktemp("source") / "best.ckpt"
    run.save_checkpoint(path)
    return path


def backbone_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.clone() for key, value in module.backbone.state_dict().items()}


def test_the_target_starts_from_the_source_backbone_and_a_new_head(source_ckpt: Path) -> None:
    source = torch.load(source_ckpt, weights_only=True)["state_dict"]
    target = task()
    BackboneTransfer(str(source_ckpt)).on_fit_start(trainer(), target)  # a fit that starts, not one that resumes
    for key, tensor in target.backbone.state_dict().items():
        assert torch.equal(tensor, source[f"net.backbone.{key}"]), key
    assert not torch.equal(target.net.head[-1].weight, source["net.head.1.weight"])


def test_a_source_of_another_model_fails_naming_the_first_tensor(source_ckpt: Path) -> None:
    with pytest.raises(ValueError, match=r"does not fit this model: net\.backbone\.1\.weight is missing") as error:
        BackboneTransfer(str(source_ckpt)).on_fit_start(trainer(), task(MLP(1, (8, 8), 10)))
    assert "\n" not in str(error.value)


def test_without_a_source_or_with_a_missing_one_the_error_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"transfer needs a source: transfer\.source_ckpt="):
        BackboneTransfer().setup(trainer(), task(), "fit")
    with pytest.raises(FileNotFoundError, match=r"transfer\.source_ckpt=.*nope\.ckpt does not exist; train the source"):
        BackboneTransfer(str(tmp_path / "nope.ckpt")).on_fit_start(trainer(), task())
    BackboneTransfer(str(tmp_path / "nope.ckpt")).setup(trainer(), task(), "test")  # evaluation needs no source


class Snapshot(Callback):
    """The backbone's state dict and requires_grad at the start of every training epoch, and at the end."""

    def __init__(self) -> None:
        self.states: list[dict[str, torch.Tensor]] = []
        self.trainable: list[bool] = []

    def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self.states.append(backbone_state(module))
        self.trainable.append(all(p.requires_grad for p in module.backbone.parameters()))

    def on_fit_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self.states.append(backbone_state(module))


def changed(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> set[str]:
    return {key for key in before if not torch.equal(before[key], after[key])}


@pytest.mark.parametrize("cache", [True, False])
def test_freeze_keeps_weights_and_batchnorm_statistics_while_the_head_learns(source_ckpt: Path, cache: bool) -> None:
    target, snapshot, transfer = task(), Snapshot(), BackboneTransfer(str(source_ckpt), freeze_epochs=None,
                                                                       cache_features=cache)  # fmt: skip
    transfer.on_fit_start(trainer(), target)
    loaded, head = backbone_state(target), target.net.head[-1].weight.clone()
    trainer(snapshot, transfer).fit(target, datamodule=digits())
    assert not changed(loaded, snapshot.states[-1])  # running_mean/var and num_batches_tracked too
    assert any("running_mean" in key for key in loaded)
    assert not torch.equal(head, target.net.head[-1].weight)
    if cache:  # each training and validation image computed at most once; the second epoch looks them up
        assert transfer.misses <= len(torch.unique(digits_train_and_val(), dim=0)) < 2 * transfer.hits


def test_cached_features_train_the_same_head_as_the_frozen_backbone(source_ckpt: Path) -> None:
    heads = []
    for cache in (True, False):
        L.seed_everything(0)
        target = task()
        trainer(BackboneTransfer(str(source_ckpt), freeze_epochs=None, cache_features=cache)).fit(target, digits())
        heads.append(target.net.head[-1].weight)
    torch.testing.assert_close(heads[0], heads[1])


def test_finetune_gives_the_backbone_its_scaled_learning_rate_under_every_scheduler() -> None:
    for name in SCHEDULERS:
        module, run = task(scheduler=name, scale=0.1), trainer(epochs=1, limit_train_batches=1, limit_val_batches=0)
        run.fit(module, datamodule=digits())
        groups = {group["name"]: group for group in run.optimizers[0].param_groups}
        assert {id(p) for p in groups["backbone"]["params"]} == {id(p) for p in module.backbone.parameters()}
        peak = {"head": LR, "backbone": LR * 0.1}  # one-cycle's max_lr, cosine's initial_lr, else the lr
        for group_name, group in groups.items():
            assert group.get("max_lr", group.get("initial_lr", group["lr"])) == pytest.approx(peak[group_name])


class LearningRates(Callback):
    def __init__(self) -> None:
        self.rates: list[list[float]] = []

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self.rates.append([group["lr"] for group in trainer.optimizers[0].param_groups])


@pytest.mark.parametrize("scheduler", list(SCHEDULERS))
def test_gradual_unfreezes_at_epoch_k_under_every_scheduler(source_ckpt: Path, scheduler: str) -> None:
    snapshot, rates = Snapshot(), LearningRates()
    transfer = BackboneTransfer(str(source_ckpt), freeze_epochs=2)
    trainer(transfer, snapshot, rates, epochs=4).fit(task(scheduler=scheduler, scale=0.1), datamodule=digits())
    assert snapshot.trainable == [False, False, True, True]
    assert [bool(changed(a, b)) for a, b in zip(snapshot.states, snapshot.states[1:], strict=False)] == [
        False,
        False,
        True,
        True,
    ]
    for head, backbone in rates.rates:  # the same schedule for both groups, the backbone's scaled
        assert backbone == pytest.approx(0.1 * head)


class StopAfter(Callback):
    """Interrupts the run after `epochs` epochs, as a crash would."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        trainer.should_stop = trainer.current_epoch + 1 >= self.epochs


def test_a_resumed_gradual_run_stays_unfrozen(source_ckpt: Path, tmp_path: Path) -> None:
    first = trainer(BackboneTransfer(str(source_ckpt), freeze_epochs=1), StopAfter(2), epochs=3)
    first.fit(task(scheduler="one_cycle", scale=0.1), datamodule=digits())
    first.save_checkpoint(tmp_path / "last.ckpt")
    snapshot = Snapshot()
    resumed = trainer(BackboneTransfer(str(source_ckpt), freeze_epochs=1), snapshot, epochs=3)
    resumed.fit(task(scheduler="one_cycle", scale=0.1), datamodule=digits(), ckpt_path=tmp_path / "last.ckpt",
                weights_only=True)  # fmt: skip
    assert snapshot.trainable == [True]  # epoch 2: past the frozen epoch; Lightning #21901 froze it again
    assert not changed(backbone_state(first.lightning_module), snapshot.states[0])  # the run's, not the source's
    assert changed(snapshot.states[0], snapshot.states[-1])


def test_scratch_refuses_a_pretrained_model() -> None:
    pretrained = cnn()
    pretrained.pretrained = True
    with pytest.raises(ValueError, match=r"transfer=scratch trains from random weights.*model\.weights=null"):
        BackboneTransfer(from_scratch=True).setup(trainer(), task(pretrained), "fit")


def test_freeze_turns_augmentation_off_even_where_the_data_config_augments(tmp_path: Path) -> None:
    data = compose_config("train", "data=cifar10", "transfer=freeze", output_dir=tmp_path).data
    assert (data.random_crop_padding, data.random_flip, data.random_scale) == (0, False, None)


def test_a_pretrained_net_gets_images_in_0_1_and_normalises_them_with_its_weights_statistics(tmp_path: Path) -> None:
    cfg = compose_config("train", "data=digits", "model=efficientnet_lite0", "model.input_size=32", output_dir=tmp_path)
    datamodule, module = build(cfg)
    assert (datamodule.mean, datamodule.std) == ((0.0,), (1.0,))
    adapter = module.net.backbone[0]
    assert (adapter.mean, adapter.std, adapter.repeat) == ([0.5] * 3, [0.5] * 3, 3)
