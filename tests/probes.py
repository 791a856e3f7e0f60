"""Callbacks that a test adds to a real CLI run (`+callbacks.x._target_=tests.probes.X`): one records what each
process of the run did, the others change what it runs on or what it computes."""

import hashlib
import json
from pathlib import Path

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from torch.utils.data import DistributedSampler


def fingerprint(rng_state: torch.Tensor) -> str:
    """A short name for a torch generator state (a uint8 tensor)."""
    return hashlib.sha256(rng_state.numpy().tobytes()).hexdigest()[:16]


def sample_ids(loader: torch.utils.data.DataLoader) -> list[list[int]] | None:
    """The batches of sample indices a loader set up by Lightning serves, when reading them draws nothing (a
    distributed or sequential sampler; one device's shuffle would draw from the generator the run trains with)."""
    if isinstance(loader.sampler, torch.utils.data.RandomSampler):
        return None
    return [list(map(int, batch)) for batch in loader.batch_sampler]


class Record(Callback):
    """Writes `<folder>/rank<r>.json` when the fit ends: the dtypes of the net's training outputs, the labels of
    the first training batch, each epoch's training batches and the test batches as sample indices, and the
    torch generator once a resume has restored the checkpoint."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)
        self.record: dict[str, object] = {"train_ids": [], "logits_dtypes": []}

    def on_fit_start(self, trainer: Trainer, task: LightningModule) -> None:
        def remember_dtype(module: torch.nn.Module, inputs: object, output: torch.Tensor) -> None:
            if module.training and str(output.dtype) not in self.record["logits_dtypes"]:
                self.record["logits_dtypes"].append(str(output.dtype))

        task.net.register_forward_hook(remember_dtype)

    def on_load_checkpoint(self, trainer: Trainer, task: LightningModule, checkpoint: dict) -> None:
        # After the task's own hook; the fit's restore, not the test's of best.ckpt that follows it.
        self.record.setdefault("rng_after_restore", fingerprint(torch.get_rng_state()))

    def on_train_epoch_start(self, trainer: Trainer, task: LightningModule) -> None:
        self.record["train_ids"].append(sample_ids(trainer.train_dataloader))  # after Lightning set the epoch
        self.record["distributed"] = isinstance(trainer.train_dataloader.sampler, DistributedSampler)

    def on_train_batch_start(self, trainer: Trainer, task: LightningModule, batch: object, batch_idx: int) -> None:
        self.record.setdefault("first_labels", [int(label) for label in batch[1]])

    def on_test_epoch_start(self, trainer: Trainer, task: LightningModule) -> None:
        self.record["test_ids"] = sample_ids(trainer.test_dataloaders)
        if self.record["train_ids"]:  # a fit ran in this process: src.eval of the run must not overwrite its record
            self.write(trainer)

    def on_fit_end(self, trainer: Trainer, task: LightningModule) -> None:
        self.write(trainer)

    def write(self, trainer: Trainer) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / f"rank{trainer.global_rank}.json").write_text(json.dumps(self.record))


class NonFiniteFrom(Callback):
    """From batch `batch` of epoch `epoch` on, the net's first weight is NaN, so every loss after it is."""

    def __init__(self, epoch: int, batch: int) -> None:
        self.epoch, self.batch = epoch, batch

    def on_train_batch_start(self, trainer: Trainer, task: LightningModule, batch: object, batch_idx: int) -> None:
        if (trainer.current_epoch, batch_idx) == (self.epoch, self.batch):
            with torch.no_grad():
                next(task.net.parameters()).fill_(float("nan"))


class CpuWithoutBf16(Callback):
    """Makes torch report a CPU with AVX2 and no bf16 units (built before the trainer, so its checks see it)."""

    def __init__(self) -> None:
        torch.backends.cpu.get_cpu_capability = lambda: "AVX2"
        torch.ops.mkldnn._is_mkldnn_bf16_supported = lambda: False


class FreezeAfterFirstEpoch(Callback):
    """After the first epoch every learning rate is 0: the monitored metric can no longer improve."""

    def on_train_epoch_end(self, trainer: Trainer, task: LightningModule) -> None:
        for group in trainer.optimizers[0].param_groups:
            group["lr"] = 0.0
