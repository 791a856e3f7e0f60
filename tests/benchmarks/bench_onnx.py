"""ONNX Runtime against PyTorch eager on the CPU: latency at batch 1 and 64, and the largest difference.

For each checkpoint: the run's net with its weights (as src.export builds it), exported as src.export does
(torch.onnx dynamo exporter, opset 18), then, in this process and on the same preprocessed test images, the
median time of `--repeats` forward passes of each at batch 1 and at batch 64 (after a warm-up), and the
largest |difference| of their logits on the 64 images. Both use the machine's cores (torch's and ONNX
Runtime's default thread pools). Prints a Markdown table.

    python tests/benchmarks/bench_onnx.py cnn=outputs/runs/<run>/checkpoints/best.ckpt unet=<ckpt> lite0=<ckpt>
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir

from src.inference.onnx import OnnxNet, export_onnx, has_same_padding
from src.inference.run import load_trained
from src.run.directories import eval_arguments, with_saved_run

ROOT = Path(__file__).resolve().parents[2]


def trained(ckpt: str) -> tuple[object, object]:
    """The run's data module and task, composed as src.export composes them (the run's own overrides)."""
    argv = eval_arguments(["export", f"ckpt_path={ckpt}"])[1:]
    overrides = [*argv, f"paths.output_dir={tempfile.gettempdir()}"]
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = with_saved_run(compose("export", overrides=overrides), overrides)
    return load_trained(cfg)


def median_time(function: object, repeats: int) -> float:
    function()  # warm-up: oneDNN and ONNX Runtime pick their kernels on the first call
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(name: str, ckpt: str, repeats: int, folder: Path) -> list[str]:
    datamodule, task = trained(ckpt)
    datamodule.setup("test")
    images = datamodule.preprocess(datamodule.splits["test"].tensors[0][:64])
    net = task.net.eval()
    path = folder / f"{name}.onnx"
    with torch.no_grad():
        spatial = net(images[:2]).ndim == 4
    export_onnx(net, images[:2], path, dynamic_size=spatial and not has_same_padding(net))
    onnx_net = OnnxNet(path)
    with torch.no_grad():
        difference = float((net(images) - onnx_net(images)).abs().max())
        rows = []
        for batch in (1, 64):
            x = images[:batch].contiguous()
            eager = median_time(lambda x=x: net(x), repeats)
            runtime = median_time(lambda x=x: onnx_net(x), repeats)
            rows.append(f"| {name} | {tuple(x.shape)} | {1000 * eager:.2f} ms | {1000 * runtime:.2f} ms | "
                        f"{eager / runtime:.2f} | {difference:.2g} |")  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="name=checkpoint")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    lines = ["| net | input | PyTorch eager | ONNX Runtime | speed-up | largest difference (64 images) |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        for run in args.runs:
            name, ckpt = run.split("=", 1)
            lines += measure(name, ckpt, args.repeats, Path(folder))
    print(f"threads: torch {torch.get_num_threads()}, ONNX Runtime its default (one per core)")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
