"""One training epoch through the framework against a plain PyTorch loop, in this process.

Both train the same net (as the task builds it, channels_last included), with the same loss, batch size,
optimiser, precision and data, alternating `--repeats` times; prints each time, images per second and the
framework/plain ratio of the medians. Validation is off in both; the plain loop steps no learning-rate
scheduler (one OneCycleLR step per batch costs microseconds) and reads pre-normalised tensors, its best case.
`--floor` adds a bare LightningModule trained on the plain loop's batches: what Lightning's own loop costs, and
so what share of the gap is the framework's (its data module, task, metrics, callbacks and logging).

    make bench                                           # the default CNN on Fashion-MNIST
    python tests/benchmarks/bench_epoch.py --repeats 3 model=mlp
    python tests/benchmarks/bench_epoch.py --batches 100 data=fashion_seg model=unet   # segmentation
    python tests/benchmarks/bench_epoch.py data=fashion_mnist_binarized               # the default VAE
    python tests/benchmarks/bench_epoch.py --floor data=fashion_mnist_binarized       # ... and Lightning's floor
"""

import argparse
import contextlib
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import lightning as L
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from lightning.pytorch.callbacks import Timer
from torch import nn

from src.data.generative import binarize
from src.run.build import build, build_trainer

CONF = Path(__file__).resolve().parents[2] / "conf"


def config(overrides: list[str], output_dir: str) -> object:
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose("train", overrides=[f"paths.output_dir={output_dir}", "trainer.max_epochs=1", *overrides])


def framework_epoch(overrides: list[str], batches: int | None) -> float:
    with tempfile.TemporaryDirectory() as out:
        cfg = config(["~callbacks.progress_bar", *overrides], out)
        L.seed_everything(cfg.seed)
        datamodule, task = build(cfg)
        timer = Timer()
        limit = {"limit_train_batches": batches} if batches else {}
        trainer = build_trainer(cfg, limit_val_batches=0, num_sanity_val_steps=0, enable_progress_bar=False, **limit)
        trainer.callbacks.append(timer)
        trainer.fit(task, datamodule=datamodule)
        return timer.time_elapsed("train")


class Batches:
    """The plain loop's batches: full ones only, as the framework's training loader, indexed from preloaded
    tensors in a fixed shuffled order; a VAE scores its own input, binarised afresh as the data module does."""

    def __init__(self, images: torch.Tensor, targets: torch.Tensor, size: int, steps: int, binarized: bool | None):
        self.images, self.targets, self.size, self.steps, self.binarized = images, targets, size, steps, binarized
        self.order = torch.randperm(len(targets))

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for step in range(self.steps):
            index = self.order[step * self.size : (step + 1) * self.size]
            images, targets = self.images[index], self.targets[index]
            if self.binarized is not None:  # generative: the target is the input
                images = binarize(images) if self.binarized else images
                targets = images
            yield images, targets


def plain_parts(overrides: list[str], batches: int | None) -> tuple[object, nn.Module, nn.Module, Batches]:
    """The config, and the net and loss as the task builds them, with the plain loop's batches."""
    cfg = config(overrides, "/unused")
    L.seed_everything(cfg.seed)
    datamodule, task = build(cfg)
    datamodule.setup("fit")
    images, targets = datamodule.splits["train"].tensors[:2]
    images = datamodule.normalize(images.float() / 255)  # preloaded, normalised once: the plain loop's best case
    size = cfg.data.batch_size
    steps = len(targets) // size if batches is None else min(batches, len(targets) // size)
    binarized = datamodule.binarize if datamodule.task == "generative" else None
    return cfg, task.net, task.loss, Batches(images, targets.long(), size, steps, binarized)


def plain_epoch(overrides: list[str], batches: int | None) -> float:
    cfg, net, loss_fn, data = plain_parts(overrides, batches)
    optimizer = instantiate(cfg.optimizer)(net.parameters())
    bf16 = "bf16" in str(cfg.trainer.precision)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    net.train()
    start = time.perf_counter()
    for images, targets in data:
        optimizer.zero_grad(set_to_none=True)
        with autocast:
            loss = loss_fn(net(images), targets)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


class BareModule(L.LightningModule):
    """Lightning's automatic loop and nothing else: the plain loop's net, loss, optimiser and batches."""

    def __init__(self, net: nn.Module, loss_fn: nn.Module, optimizer: Callable) -> None:
        super().__init__()
        self.net, self.loss_fn, self.make_optimizer = net, loss_fn, optimizer

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        images, targets = batch
        return self.loss_fn(self.net(images), targets)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.make_optimizer(self.net.parameters())


def lightning_epoch(overrides: list[str], batches: int | None) -> float:
    """The floor under the framework: a bare LightningModule on the plain loop's batches, no callbacks,
    logger, checkpoints, metrics or scheduler."""
    cfg, net, loss_fn, data = plain_parts(overrides, batches)
    timer = Timer()
    trainer = L.Trainer(
        accelerator="cpu", devices=1, max_epochs=1, precision=cfg.trainer.precision, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, callbacks=[timer],
    )  # fmt: skip
    trainer.fit(BareModule(net, loss_fn, instantiate(cfg.optimizer)), train_dataloaders=data)
    return timer.time_elapsed("train")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batches", type=int, default=None, help="train on this many batches (default: an epoch)")
    parser.add_argument("--floor", action="store_true", help="also time a bare LightningModule on the plain batches")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for both, e.g. model=mlp")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, overrides: {args.overrides or 'none'}")
    loops = {"plain loop": plain_epoch, "framework": framework_epoch}
    if args.floor:
        loops["bare Lightning"] = lightning_epoch
    times: dict[str, list[float]] = {name: [] for name in loops}
    for repeat in range(args.repeats):
        # Rotate which goes first, so a machine that slows down or speeds up favours none.
        names = list(loops)[repeat % len(loops) :] + list(loops)[: repeat % len(loops)]
        for name in names:
            times[name].append(loops[name](args.overrides, args.batches))
        print(f"repeat {repeat + 1}: " + ", ".join(f"{name} {times[name][-1]:.2f} s" for name in loops))
    cfg = config(args.overrides, "/unused")
    images = (args.batches or 0) * cfg.data.batch_size
    framework, plain = times["framework"], times["plain loop"]
    per_second = f", {images / statistics.median(framework):.0f} images/s through the framework" if images else ""
    medians = ", ".join(f"{name} {statistics.median(times[name]):.2f} s" for name in loops)
    print(f"median epoch: {medians}{per_second}")
    print("fastest epoch: " + ", ".join(f"{name} {min(times[name]):.2f} s" for name in loops))
    for name in list(loops)[1:]:
        print(
            f"{name} / plain loop time ratio: {statistics.median(times[name]) / statistics.median(plain):.3f} "
            f"(medians), {min(times[name]) / min(plain):.3f} (fastest; noise only ever adds time)"
        )
    if args.floor:
        floor = times["bare Lightning"]
        print(f"framework / bare Lightning: {statistics.median(framework) / statistics.median(floor):.3f} (medians)")


if __name__ == "__main__":
    main()
