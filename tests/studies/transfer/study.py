"""The transfer-learning study: `make transfer-study` (python -m tests.studies.transfer.study [--jobs 2]).

Three source -> target pairs, each target trained with freeze, finetune, gradual and scratch on 1%, 5%, 20%
and 100% of its training set, with two seeds, by Hydra multiruns of `src.train`:
- in-domain: a small CNN learns Fashion-MNIST classes 0-4; the target is classes 5-9;
- dissimilar: the same CNN learns scikit-learn's 8x8 digits; the target is again classes 5-9 (the two pairs
  share their scratch runs);
- pretrained: ImageNet EfficientNet-Lite0 at 48 px; the target is all ten Fashion-MNIST classes.
Every target run of a pair trains the same few epochs (`epochs`), an epoch being one pass over its training
subset but at most `epoch_steps` steps, so 1% gets few steps and 20% and 100% the same number. Each seed also
draws its own training subset (data.seed). Runs and their TensorBoard logs go to
outputs/transfer_study/<time>/; the table, the CSV and the plots to this folder (report.py).
"""

import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.studies.transfer import report

ROOT = Path(__file__).resolve().parents[3]
FRACTIONS = (0.01, 0.05, 0.2, 1.0)
SEEDS = (1, 2)
CNN = ["model=cnn", "model.channels=[32,64,128]", "model.global_pool=true", "model.hidden_size=null"]
FMNIST_5_TO_9 = ["data=fashion_mnist", "data.classes=[5,6,7,8,9]", "data.val_size=1000"]
# Every run: no pictures (they cost seconds per validation); the test metrics and TensorBoard events are read.
COMMON = ["~callbacks.images", "callbacks.progress_bar.refresh_rate=0", "trainer.log_every_n_steps=5"]
# One thread per process: two processes with two threads each on two shared cores run 5x slower (measured).
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

SOURCES = {
    "fmnist_0-4": [*CNN, "transfer=source", "data=fashion_mnist", "data.classes=[0,1,2,3,4]", "trainer.max_epochs=2"],
    "digits": [*CNN, "transfer=source", "data=digits", "trainer.max_epochs=15"],
}
PAIRS = {  # source (None: the model's pretrained weights), target overrides, strategy -> extra overrides, budget
    "in-domain": {
        "source": "fmnist_0-4", "target": [*CNN, *FMNIST_5_TO_9],
        "strategies": {"freeze": [], "finetune": [], "gradual": [], "scratch": []},
        "images": 29_500, "batch": 64, "epochs": 10, "epoch_steps": 50,
    },
    "dissimilar": {
        "source": "digits", "target": [*CNN, *FMNIST_5_TO_9],
        "strategies": {"freeze": [], "finetune": [], "gradual": []},
        "images": 29_500, "batch": 64, "epochs": 10, "epoch_steps": 50,
    },
    "pretrained": {
        "source": None,
        "target": ["model=efficientnet_lite0", "model.input_size=48", "data=fashion_mnist", "data.val_size=500",
                   "++trainer.limit_test_batches=63"],  # the first 2,016 test images: Lite0 is slow on a CPU
        "strategies": {"freeze": ["model.weights=package"], "finetune": ["model.weights=package"],
                       "gradual": ["model.weights=package"], "scratch": []},
        "images": 59_500, "batch": 32, "epochs": 3, "epoch_steps": 20,
    },
}  # fmt: skip


def schedule(images: int, batch: int, epochs: int, epoch_steps: int) -> dict[str, int]:
    """Steps per epoch (a pass over `images`, at most `epoch_steps`) and gradual's k: a third of the epochs."""
    per_epoch = min(epoch_steps, max(1, images // batch))  # the training loader drops its last partial batch
    return {"epochs": epochs, "per_epoch": per_epoch, "gradual_k": max(1, round(epochs / 3))}


def train(overrides: list[str], multirun: bool = False) -> None:
    command = [sys.executable, "-m", "src.train", *(["-m"] if multirun else []), *COMMON, *overrides]
    print("$ python", " ".join(command[1:]), flush=True)
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=ENV)
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(command[1:])}\n{result.stderr[-3000:]}")


def target_sweeps(pair: str, out: Path, checkpoints: dict[str, Path]) -> list[list[list[str]]]:
    """Per fraction, the multiruns to run one after the other in its sweep directory (one per set of extra
    overrides: strategies x seeds, a subdirectory each). One after the other: a sweep's summary fails it when
    a job in its directory has not completed, which another sweep's running job would look like."""
    spec = PAIRS[pair]
    source = [f"transfer.source_ckpt={checkpoints[spec['source']]}"] if spec["source"] else []
    sweeps = []
    for fraction in FRACTIONS:
        plan = schedule(round(spec["images"] * fraction), spec["batch"], spec["epochs"], spec["epoch_steps"])
        common = [
            *spec["target"], *source, f"data.train_fraction={fraction}", f"data.batch_size={spec['batch']}",
            "data.seed=${seed}", f"seed={','.join(map(str, SEEDS))}", f"trainer.max_epochs={plan['epochs']}",
            f"++trainer.limit_train_batches={plan['per_epoch']}",
            f"++transfer.freeze_epochs={plan['gradual_k']}", f"hydra.sweep.dir={out / pair / f'{fraction:g}'}",
            "hydra.sweep.subdir=${hydra.runtime.choices.transfer}_${seed}",
        ]  # fmt: skip
        by_extra: dict[tuple[str, ...], list[str]] = {}
        for strategy, extra in spec["strategies"].items():
            by_extra.setdefault(tuple(extra), []).append(strategy)
        sweeps.append([[*common, *extra, f"transfer={','.join(group)}"] for extra, group in by_extra.items()])
    return sweeps


def epoch_times(out: Path, checkpoints: dict[str, Path]) -> list[str]:
    """freeze (cached features) and finetune on the same data: the in-domain target's 20%, 3 whole epochs each."""
    return [*CNN, *FMNIST_5_TO_9, "data.train_fraction=0.2", "data.batch_size=64", "trainer.max_epochs=3",
            f"transfer.source_ckpt={checkpoints['fmnist_0-4']}", "seed=1", f"hydra.sweep.dir={out / 'epoch_times'}",
            "hydra.sweep.subdir=${hydra.runtime.choices.transfer}", "transfer=freeze,finetune"]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "transfer_study" / stamp)
    parser.add_argument("--jobs", type=int, default=2, help="multiruns at once (one CPU thread each)")
    parser.add_argument("--results", type=Path, default=Path(__file__).parent, help="where the report goes")
    parser.add_argument("--report-only", action="store_true", help="re-read the runs in --out, train nothing")
    args = parser.parse_args()
    args.out = args.out.resolve()
    start = time.monotonic()
    checkpoints = {name: args.out / "sources" / name / "checkpoints" / "best.ckpt" for name in SOURCES}
    if not args.report_only:
        with ThreadPoolExecutor(args.jobs) as pool:
            runs = [
                [*overrides, "seed=42", f"hydra.run.dir={args.out / 'sources' / name}"]
                for name, overrides in SOURCES.items()
            ]
            list(pool.map(train, runs))
            # The slowest pair first, so that the two workers finish together.
            fractions = [sweeps for pair in reversed(PAIRS) for sweeps in target_sweeps(pair, args.out, checkpoints)]
            list(pool.map(lambda sweeps: [train(sweep, multirun=True) for sweep in sweeps], fractions))
        train(epoch_times(args.out, checkpoints), multirun=True)  # alone, so that the timing is not shared
    minutes = None if args.report_only else (time.monotonic() - start) / 60
    report.write(args.out, args.results, minutes)


if __name__ == "__main__":
    main()
