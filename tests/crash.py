"""Callbacks that stop a real training run the hard way, for the resume and atomic-save tests."""

import errno
import os
import signal
from typing import BinaryIO

import torch
from lightning.pytorch import Callback, LightningModule, Trainer


class KillAtBatch(Callback):
    """SIGKILL this process (no cleanup, no handlers: a pre-emption or the OOM killer) at a batch of an epoch."""

    def __init__(self, epoch: int, batch: int) -> None:
        self.epoch, self.batch = epoch, batch

    def on_train_batch_start(self, trainer: Trainer, task: LightningModule, batch: object, batch_idx: int) -> None:
        if trainer.current_epoch == self.epoch and batch_idx == self.batch:
            os.kill(os.getpid(), signal.SIGKILL)


class FullDiskAtSave(Callback):
    """From the `save`-th checkpoint save on, the disk is full: the write stops half way with ENOSPC."""

    def __init__(self, save: int) -> None:
        self.save = save

    def setup(self, trainer: Trainer, task: LightningModule, stage: str) -> None:
        saves = 0
        real_save = torch.save

        def save_until_full(checkpoint: object, file: BinaryIO, *args: object, **kwargs: object) -> None:
            nonlocal saves
            saves += 1
            if saves < self.save:
                return real_save(checkpoint, file, *args, **kwargs)
            file.write(b"half a checkpoint")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        torch.save = save_until_full  # this process only: the run dies with it
