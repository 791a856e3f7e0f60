"""Callbacks that stop a real training run the hard way, for the resume and atomic-save tests."""

import os
import signal

from lightning.pytorch import Callback, LightningModule, Trainer


class KillAtBatch(Callback):
    """SIGKILL this process (no cleanup, no handlers: a pre-emption or the OOM killer) at a batch of an epoch."""

    def __init__(self, epoch: int, batch: int) -> None:
        self.epoch, self.batch = epoch, batch

    def on_train_batch_start(self, trainer: Trainer, task: LightningModule, batch: object, batch_idx: int) -> None:
        if trainer.current_epoch == self.epoch and batch_idx == self.batch:
            os.kill(os.getpid(), signal.SIGKILL)
