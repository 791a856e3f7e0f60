"""data=image_folder's two paths on one folder: decoding throughput, the epoch time of each, and anonymous memory.

    python tests/benchmarks/bench_cache.py epochs DIR [--repeats 2] [overrides]   # memory vs disk epoch times
    python tests/benchmarks/bench_cache.py memory DIR [DIR ...]                   # RssAnon of each path per folder

`epochs`: decodes 5,000 files in this process (files per second on one core), then trains the default run's net
one epoch at a time on each path, alternating, in this process (validation off), and prints each epoch's
seconds, the medians and the disk/memory ratio. The disk path's decoded file goes to a temporary folder.
`memory`: for each folder and path, a fresh process sets the data up, reads one whole training epoch of batches
and prints its RssAnon (anonymous memory: file pages the OS may drop, such as a memory-mapped file's, are not
in it) beside the decoded size.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # run as a script: `src` and `tests` from the project root

from tests.benchmarks.bench_epoch import config, framework_epoch  # noqa: E402


def decode_rate(folder: Path, count: int = 5000) -> float:
    import torch

    from src.data.decoded import _decode_into
    from src.data.folder_survey import survey_folder

    survey = survey_folder(str(folder), None)
    files = survey.files["train"][:: max(1, len(survey.files["train"]) // count)][:count]
    store = torch.empty(len(files), survey.in_channels, *survey.image_size, dtype=torch.uint8)
    started = time.perf_counter()
    _decode_into(store, files, survey.in_channels, survey.image_size, skip_bad=False, workers=0)
    return len(files) / (time.perf_counter() - started)


def streamed_epoch(folder: Path, workers: int) -> float:
    """Seconds to serve one shuffled epoch of the training files decoded per sample in `workers` DataLoader worker
    processes (the other way of serving a set larger than memory), batches of 128, nothing trained."""
    from torch.utils.data import DataLoader

    from src.data.decoded import _Files
    from src.data.folder_survey import survey_folder

    survey = survey_folder(str(folder), None)
    files = _Files(survey.files["train"], survey.in_channels, survey.image_size)
    loader = DataLoader(files, batch_size=128, shuffle=True, num_workers=workers, collate_fn=lambda batch: batch)
    started = time.perf_counter()
    for _ in loader:
        pass
    return time.perf_counter() - started


def epochs(folder: Path, repeats: int, overrides: list[str]) -> None:
    print(f"decoding: {decode_rate(folder):.0f} files/s on one core ({folder})", flush=True)
    workers = os.cpu_count() or 1
    print(f"decoding every training file per sample in {workers} workers: {streamed_epoch(folder, workers):.1f} s "
          "an epoch, nothing trained", flush=True)  # fmt: skip
    times: dict[str, list[float]] = {"memory": [], "disk": []}
    with tempfile.TemporaryDirectory() as cache:
        common = ["data=image_folder", f"data.data_dir={folder}", f"data.cache_dir={cache}", *overrides]
        for _ in range(repeats):
            for path in times:
                seconds = framework_epoch([*common, f"data.cache={path}"], None)
                times[path].append(seconds)
                print(f"{path}: {seconds:.2f} s", flush=True)
    memory, disk = (statistics.median(times[path]) for path in ("memory", "disk"))
    print(f"median epoch: memory {memory:.2f} s, disk {disk:.2f} s; disk/memory {disk / memory:.3f}")


def one_epoch_of_batches(folder: str, path: str, cache: str) -> None:
    """In a fresh process: set the data up, read every training batch once, print RssAnon and the decoded size."""
    from hydra.utils import instantiate

    cfg = config(
        ["data=image_folder", f"data.data_dir={folder}", f"data.cache={path}", f"data.cache_dir={cache}"], cache
    )
    data = instantiate(cfg.data)
    data.setup("fit")
    for _ in data.train_dataloader():
        pass
    images = sum(split.tensors[0].numel() for split in data.splits.values())
    anonymous = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("RssAnon"))
    print(f"{folder} {path}: {anonymous.split(':')[1].strip()} anonymous, decoded {images / 2**20:.0f} MiB")


def memory(folders: list[str]) -> None:
    with tempfile.TemporaryDirectory() as cache:
        for folder in folders:
            for path in ("disk", "memory"):
                code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); from tests.benchmarks.bench_cache import *; "
                code += f"one_epoch_of_batches({folder!r}, {path!r}, {cache!r})"
                result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
                print(result.stdout.strip() or result.stderr[-2000:], flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("epochs", "memory"))
    parser.add_argument("folders", nargs="+")
    parser.add_argument("--repeats", type=int, default=2)
    args, overrides = parser.parse_known_args()
    if args.mode == "epochs":
        epochs(Path(args.folders[0]), args.repeats, [*args.folders[1:], *overrides])
    else:
        memory(args.folders)
