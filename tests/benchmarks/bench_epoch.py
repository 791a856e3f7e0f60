"""One training epoch through the framework against a plain PyTorch loop, in this process.

Both train the same net (as the task builds it, channels_last included), with the same loss, batch size,
optimiser, precision and data, alternating `--repeats` times; prints each time, images per second and the
framework/plain ratio of the medians. Validation is off in both; the plain loop steps no learning-rate
scheduler (one OneCycleLR step per batch costs microseconds) and reads pre-normalised tensors, its best case.

    make bench                                           # the default CNN on Fashion-MNIST
    python tests/benchmarks/bench_epoch.py --repeats 3 model=mlp
    python tests/benchmarks/bench_epoch.py --batches 100 data=fashion_seg model=unet   # segmentation
    python tests/benchmarks/bench_epoch.py data=fashion_mnist_binarized               # the default VAE
"""

import argparse
import contextlib
import statistics
import tempfile
import time
from pathlib import Path

import lightning as L
import torch
from hydra import compose, initialize_config_dir
from lightning.pytorch.callbacks import Timer

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


def plain_epoch(overrides: list[str], batches: int | None) -> float:
    cfg = config(overrides, "/unused")
    L.seed_everything(cfg.seed)
    datamodule, task = build(cfg)
    datamodule.setup("fit")
    images, targets = datamodule.splits["train"].tensors[:2]
    images = datamodule.normalize(images.float() / 255)  # preloaded, normalised once: the plain loop's best case
    targets = targets.long()
    generative = datamodule.task == "generative"
    net, loss_fn = task.net, task.loss
    optimizer = cfg_optimizer(cfg, net)
    bf16 = "bf16" in str(cfg.trainer.precision)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    size = cfg.data.batch_size
    steps = len(targets) // size if batches is None else min(batches, len(targets) // size)
    net.train()
    order = torch.randperm(len(targets))
    start = time.perf_counter()
    for step in range(steps):  # full batches only, as the framework's training loader
        index = order[step * size : (step + 1) * size]
        batch, batch_targets = images[index], targets[index]
        if generative:  # a VAE scores its own input, binarised afresh as the data module does
            batch = binarize(batch) if datamodule.binarize else batch
            batch_targets = batch
        optimizer.zero_grad(set_to_none=True)
        with autocast:
            loss = loss_fn(net(batch), batch_targets)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def cfg_optimizer(cfg: object, net: torch.nn.Module) -> torch.optim.Optimizer:
    from hydra.utils import instantiate

    return instantiate(cfg.optimizer)(net.parameters())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batches", type=int, default=None, help="train on this many batches (default: an epoch)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for both, e.g. model=mlp")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, overrides: {args.overrides or 'none'}")
    plain, framework = [], []
    for repeat in range(args.repeats):
        # Alternate which goes first, so a machine that slows down or speeds up favours neither.
        runs = [(plain_epoch, plain), (framework_epoch, framework)]
        for epoch, times in runs if repeat % 2 == 0 else runs[::-1]:
            times.append(epoch(args.overrides, args.batches))
        print(f"repeat {repeat + 1}: plain loop {plain[-1]:.2f} s, framework {framework[-1]:.2f} s")
    cfg = config(args.overrides, "/unused")
    images = (args.batches or 0) * cfg.data.batch_size
    per_second = f", {images / statistics.median(framework):.0f} images/s through the framework" if images else ""
    print(f"median epoch: plain loop {statistics.median(plain):.2f} s, framework {statistics.median(framework):.2f} s"
          f"{per_second}")  # fmt: skip
    print(f"fastest epoch: plain loop {min(plain):.2f} s, framework {min(framework):.2f} s")
    print(
        f"framework / plain loop time ratio: {statistics.median(framework) / statistics.median(plain):.3f} (medians), "
        f"{min(framework) / min(plain):.3f} (fastest; noise only ever adds time)"
    )


if __name__ == "__main__":
    main()
