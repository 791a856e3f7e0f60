"""ClassificationTask on the real digits data with a small CNN: metrics, scheduling, and its checks."""

from functools import partial

import lightning as L
import pytest
import torch
import torch.nn as nn
from lightning.pytorch.callbacks import Callback
from torch.optim.lr_scheduler import CosineAnnealingLR, OneCycleLR

from src.data import DigitsDataModule
from src.losses import CCELoss, DiceLoss
from src.models import ConvNet
from src.tasks import ClassificationTask


def digits() -> DigitsDataModule:
    return DigitsDataModule(
        batch_size=64, val_size=180, test_size=360, seed=0, num_classes=10, in_channels=1, image_size=[8, 8]
    )


def task(loss: nn.Module | None = None, num_classes: int = 10, **kwargs) -> ClassificationTask:
    net = ConvNet(1, (8, 8), num_classes, channels=[8, 16], hidden_size=16)
    optimizer = kwargs.pop("optimizer", lambda params: torch.optim.Adam(params, lr=3e-3))
    return ClassificationTask(net, loss or CCELoss(), optimizer=optimizer, num_classes=10, **kwargs)


def trainer(**kwargs) -> L.Trainer:
    options = {"max_epochs": 3, "logger": False, "enable_checkpointing": False, "enable_progress_bar": False}
    return L.Trainer(accelerator="cpu", enable_model_summary=False, **{**options, **kwargs})


class RecordValAcc(Callback):
    def __init__(self) -> None:
        self.history: list[float] = []

    def on_validation_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if not trainer.sanity_checking:  # after the task logged the epoch's values
            self.history.append(float(trainer.callback_metrics["val/acc"]))


def test_hp_metric_is_the_best_validation_accuracy_so_far() -> None:
    L.seed_everything(0)
    record = RecordValAcc()
    run = trainer(callbacks=[record], num_sanity_val_steps=0)
    run.fit(task(), datamodule=digits())
    assert len(record.history) == 3
    assert float(run.callback_metrics["hp_metric"]) == pytest.approx(max(record.history))
    assert float(run.callback_metrics["val/acc_best"]) == pytest.approx(max(record.history))


def test_accuracy_is_the_fraction_of_correct_predictions() -> None:
    L.seed_everything(0)
    module, datamodule = task(), digits()
    run = trainer(max_epochs=1, limit_val_batches=0)
    run.fit(module, datamodule=datamodule)
    images, labels = datamodule.splits["test"].tensors
    module.eval()
    with torch.no_grad():
        correct = (module(datamodule.preprocess(images)).argmax(1) == labels).float().mean()
    assert run.test(module, datamodule=datamodule, verbose=False)[0]["test/acc"] == pytest.approx(float(correct))


@pytest.mark.parametrize(
    ("factory", "interval", "expected"),
    [
        (partial(OneCycleLR, max_lr=0.01, total_steps=None), "step", 3 * 19),
        (partial(CosineAnnealingLR, T_max=None), "epoch", 3),
        (partial(CosineAnnealingLR, T_max=7), "epoch", 7),
    ],
    ids=["one_cycle_steps", "cosine_epochs", "cosine_as_configured"],
)
def test_scheduler_length_defaults_to_the_run(factory, interval: str, expected: int) -> None:
    module = task(scheduler={"scheduler": factory, "interval": interval})
    run = trainer(limit_val_batches=0)
    run.fit(
        module, datamodule=digits()
    )  # 1257 training images / 64: 19 full batches per epoch (the last, partial one is dropped)
    scheduler = run.lr_scheduler_configs[0].scheduler
    assert (scheduler.total_steps if hasattr(scheduler, "total_steps") else scheduler.T_max) == expected


def test_optimizer_gets_only_trainable_parameters() -> None:
    given: list[nn.Parameter] = []
    module = task(optimizer=lambda params: given.extend(params) or torch.optim.SGD(given, lr=0.1))
    for parameter in module.backbone.parameters():
        parameter.requires_grad_(False)
    trainer(max_steps=1, limit_val_batches=0).fit(module, datamodule=digits())
    assert {id(p) for p in given} == {id(p) for p in module.net.head.parameters()}


NAMES = {"data": "data=digits", "model": "model=cnn", "loss": "loss=cce", "task": "task=classification"}


def test_a_net_that_predicts_other_classes_fails_before_any_data_loads() -> None:
    with pytest.raises(ValueError, match=r"model=cnn outputs \(7,\) per sample, but the classification task of "
                       r"data=digits needs \(10,\)"):  # fmt: skip
        task(num_classes=7).check_fits(digits(), NAMES)


def test_a_net_that_cannot_take_the_images_fails_before_any_data_loads() -> None:
    module = ClassificationTask(ConvNet(3, (8, 8), 10, channels=[4]), CCELoss(), optimizer=None, num_classes=10)
    with pytest.raises(ValueError, match=r"model=cnn cannot take the images of data=digits \(1, 8, 8\)"):
        module.check_fits(digits(), NAMES)


class NaNLoss(nn.Module):
    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return logits.sum() * float("nan")


def test_a_nan_loss_stops_training_with_the_step_and_a_hint() -> None:
    with pytest.raises(FloatingPointError, match=r"training loss is not finite since step 0 .*lower optimizer.lr"):
        trainer().fit(task(NaNLoss()), datamodule=digits())


def test_a_loss_that_cannot_score_the_tasks_outputs_is_refused_before_any_data_loads() -> None:
    binary = ClassificationTask(ConvNet(1, (8, 8), 1, channels=[4]), CCELoss(), optimizer=None, num_classes=10)
    binary.output_shapes = lambda datamodule: [(1,)]  # a one-output net, as a binary task would accept
    with pytest.raises(ValueError, match=r"loss=cce cannot train the classification task of data=digits: cce: "
                       r"softmax needs C >= 2 classes"):  # fmt: skip
        binary.check_fits(digits(), NAMES)
    task(DiceLoss()).check_fits(digits(), NAMES)  # Dice scores class probabilities: it fits


def test_epoch_metrics_and_loss_cover_every_sample_of_the_split_once() -> None:
    L.seed_everything(0)
    run, module, data = trainer(max_epochs=1, num_sanity_val_steps=0), task(), digits()
    run.fit(module, datamodule=data)  # 180 validation images: batches of 64, 64 and 52, queued then scored
    images, labels = data.splits["val"].tensors[:2]
    with torch.no_grad():
        logits = module.eval()(data.preprocess(images))
    assert float(run.callback_metrics["val/acc"]) == pytest.approx(float((logits.argmax(1) == labels).float().mean()))
    loss = nn.functional.cross_entropy(logits, labels.long())
    assert float(run.callback_metrics["val/loss"]) == pytest.approx(float(loss), rel=1e-5)


def test_mirror_average_scores_the_mean_of_an_image_and_its_mirror_outside_training_only() -> None:
    module = task(mirror_average=True)
    images = torch.rand(4, 1, 8, 8)
    module.train()
    torch.testing.assert_close(module(images), module.net(images))
    module.eval()
    expected = (module.net(images) + module.net(images.flip(-1))) / 2
    torch.testing.assert_close(module(images), expected)
    torch.testing.assert_close(module.evaluation_net()(images), expected)  # what predict and export run
    assert not torch.allclose(module(images), module.net(images))
    module.check_fits(digits(), NAMES)
    assert "net.net.0.weight" not in module.state_dict()  # the checkpoint's keys stay the plain net's
