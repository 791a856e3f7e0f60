"""python -m src.predict over Fashion-MNIST's test images written as PNG files, against a plain loop.

Writes the first `--images` official test images as 28x28 PNG files (not timed), then, in this process:
- decode: the files decoded as predict decodes them (src/inference/inputs.py: ImageFiles), alone;
- plain: a torch.no_grad() loop over the decoded uint8 tensors (normalise, the net, softmax, top-k), batch 128;
- predict: Trainer.predict as src.predict prepares it (the per-batch writer, decoding included, CSV written).
Decode, plain and predict take turns `--repeats` times, and the best time of each counts (the other sessions'
load on a shared CPU only ever slows a run down). Prints each time, images per second and plain / (predict -
decode): the framework's cost once the files are decoded. With --memory, also runs the real CLI on 1,000 and on
all the images in fresh processes and prints each one's peak resident memory (getrusage of the child).

    python tests/benchmarks/bench_predict.py --ckpt outputs/runs/<default run>/checkpoints/best.ckpt --memory
"""

import argparse
import gzip
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from hydra import compose, initialize_config_dir
from PIL import Image

from src.inference.inputs import ImageFiles, list_inputs
from src.predict import prepare
from src.run.directories import with_saved_run

ROOT = Path(__file__).resolve().parents[2]
IMAGES = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")


def write_pngs(folder: Path, count: int) -> list[Path]:
    raw = gzip.decompress(IMAGES.read_bytes())
    images = np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 28, 28)[:count]
    for index, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{index:05d}.png")
    return list_inputs(str(folder))


def config(ckpt: str, folder: Path, output: Path) -> object:
    overrides = [f"ckpt_path={ckpt}", f"input={folder}", f"output={output}", f"paths.output_dir={output}"]
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        return with_saved_run(compose("predict", overrides=overrides), overrides)


def decode(paths: list[Path]) -> tuple[torch.Tensor, float]:
    start = time.perf_counter()
    files = ImageFiles(paths, 1, (28, 28))
    images = torch.stack([files[i][0] for i in range(len(files))])
    return images, time.perf_counter() - start


def plain(cfg: object, images: torch.Tensor) -> float:
    from src.inference.run import load_trained

    datamodule, task = load_trained(cfg)
    net = task.net.eval()
    with torch.no_grad():  # one batch first: oneDNN's kernels are chosen on the first call
        net(datamodule.preprocess(images[: cfg.batch_size]))
    start = time.perf_counter()
    with torch.no_grad():
        for batch in images.split(cfg.batch_size):
            torch.softmax(net(datamodule.preprocess(batch)), 1).topk(3, dim=1)
    return time.perf_counter() - start


def framework(cfg: object, paths: list[Path], output: Path) -> float:
    """Trainer.predict as src.predict runs it (the net built and its weights loaded beforehand, as for plain)."""
    trainer, predictor, data = prepare(cfg, paths, output)
    start = time.perf_counter()
    trainer.predict(predictor, datamodule=data, return_predictions=False)
    return time.perf_counter() - start


def peak_memory(ckpt: str, folder: Path, output: Path) -> float:
    """GiB of peak resident memory of `python -m src.predict` on the folder, in a fresh process."""
    command = [sys.executable, "-c", (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    ), sys.executable, "-m", "src.predict", f"ckpt_path={ckpt}", f"input={folder}", f"output={output}"]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True)
    return int(result.stdout.split()[-1]) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--memory", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "images"
        folder.mkdir()
        paths = write_pngs(folder, args.images)
        cfg = config(args.ckpt, folder, Path(tmp) / "out")
        decoding, looped, predicted = float("inf"), float("inf"), float("inf")
        for repeat in range(args.repeats):
            images, seconds = decode(paths)
            decoding = min(decoding, seconds)
            looped = min(looped, plain(cfg, images))
            predicted = min(predicted, framework(cfg, paths, Path(tmp) / f"out{repeat}"))
            rows = len((Path(tmp) / f"out{repeat}" / "predictions.csv").read_text().splitlines()) - 1
            assert rows == len(paths), f"predictions.csv has {rows} rows for {len(paths)} images"
        n = len(paths)
        print(f"{n} PNG files, threads {torch.get_num_threads()}")
        print(f"decode alone:    {decoding:7.2f} s  {n / decoding:8.0f} images/s")
        print(f"plain no_grad:   {looped:7.2f} s  {n / looped:8.0f} images/s (decoded tensors)")
        print(f"src.predict:     {predicted:7.2f} s  {n / predicted:8.0f} images/s (decoding included)")
        print(f"plain / (predict - decode) = {looped / (predicted - decoding):.2f}")
        if args.memory:
            small = Path(tmp) / "small"
            small.mkdir()
            for path in paths[:1000]:
                (small / path.name).symlink_to(path)
            for name, source in (("1,000", small), (f"{n:,}", folder)):
                gib = peak_memory(args.ckpt, source, Path(tmp) / f"memory_{source.name}")
                print(f"peak RSS, src.predict on {name} images: {gib:.2f} GiB")


if __name__ == "__main__":
    main()
