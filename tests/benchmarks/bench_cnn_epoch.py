"""One training epoch of the default CNN on Fashion-MNIST: the framework against a plain PyTorch loop.

Both use the same net, loss, batch size, optimiser and data, in this process, alternating `--repeats` times;
prints each time and the framework/plain ratio of the medians. Validation is off in both; the plain loop
steps no learning-rate scheduler (one OneCycleLR step per batch costs microseconds).

    make bench                     # or: python tests/benchmarks/bench_cnn_epoch.py --repeats 3 model=mlp
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import lightning as L
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from lightning.pytorch.callbacks import Timer

from src.utils import build, build_trainer

CONF = Path(__file__).resolve().parents[2] / "conf"


def framework_epoch(overrides: list[str]) -> float:
    overrides = ["~callbacks.progress_bar", *overrides]
    with tempfile.TemporaryDirectory() as out, initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=[f"paths.output_dir={out}", "trainer.max_epochs=1", *overrides])
        L.seed_everything(cfg.seed)
        datamodule, task = build(cfg)
        timer = Timer()
        trainer = build_trainer(cfg, limit_val_batches=0, num_sanity_val_steps=0, enable_progress_bar=False)
        trainer.callbacks.append(timer)
        trainer.fit(task, datamodule=datamodule)
        return timer.time_elapsed("train")


def plain_epoch(overrides: list[str]) -> float:
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=["paths.output_dir=/unused", *overrides])
    L.seed_everything(cfg.seed)
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    images, labels = datamodule.splits["train"].tensors
    images = datamodule.normalize(images.float() / 255)  # preloaded, normalised once: the plain loop's best case
    net = instantiate(cfg.model)
    optimizer = instantiate(cfg.optimizer)(net.parameters())
    loss_fn = instantiate(cfg.loss)
    batch = cfg.data.batch_size
    net.train()
    start = time.perf_counter()
    order = torch.randperm(len(labels))
    for i in range(0, len(labels) - batch + 1, batch):  # drop the last partial batch, as the framework does
        index = order[i : i + batch]
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(net(images[index]), labels[index])
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for both, e.g. model=mlp")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, overrides: {args.overrides or 'none'}")
    plain, framework = [], []
    for repeat in range(args.repeats):
        # Alternate which goes first, so a machine that slows down or speeds up favours neither.
        runs = [("plain", plain_epoch, plain), ("framework", framework_epoch, framework)]
        for _, epoch, times in runs if repeat % 2 == 0 else runs[::-1]:
            times.append(epoch(args.overrides))
        print(f"repeat {repeat + 1}: plain loop {plain[-1]:.2f} s, framework {framework[-1]:.2f} s")
    print(f"median epoch: plain loop {statistics.median(plain):.2f} s, framework {statistics.median(framework):.2f} s")
    print(f"fastest epoch: plain loop {min(plain):.2f} s, framework {min(framework):.2f} s")
    print(
        f"framework / plain loop time ratio: {statistics.median(framework) / statistics.median(plain):.3f} (medians), "
        f"{min(framework) / min(plain):.3f} (fastest; noise only ever adds time)"
    )


if __name__ == "__main__":
    main()
