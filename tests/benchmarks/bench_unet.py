"""Training throughput of UNet variants on the CPU: which width, depth and numerics fit a 5-minute budget.

One training step = forward + cross-entropy + backward + AdamW step on a batch of 1x64x64 images with 11
classes, on 2 threads. Each variant changes one thing against the first (depth 3, base 16, bilinear, fp32,
contiguous); the last ones combine the fastest choices. Prints parameters, forward GFLOPs per image (counted by
torch's FlopCounterMode: 2 per multiply-add of convs and matmuls) and training images/s of the fastest step:
on a shared CPU, noise only ever adds time.

    python tests/benchmarks/bench_unet.py [--steps 4] [--batch 64]
"""

import argparse
import contextlib
import time

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from src.models import UNet

NUM_CLASSES, SIZE = 11, 64
BASE = {"base_channels": 16, "depth": 3, "up": "bilinear"}
# (label, UNet options beyond BASE, bf16 autocast, channels_last)
VARIANTS = [
    ("depth 3, base 16 (reference)", {}, False, False),
    ("depth 4", {"depth": 4}, False, False),
    ("base 24", {"base_channels": 24}, False, False),
    ("base 32", {"base_channels": 32}, False, False),
    ("up transposed", {"up": "transposed"}, False, False),
    ("channels_last", {}, False, True),
    ("bf16 autocast", {}, True, False),
    ("bf16 autocast + channels_last", {}, True, True),
    ("transposed + bf16 + channels_last", {"up": "transposed"}, True, True),
]


def forward_gflops(net: UNet) -> float:
    """Forward GFLOPs for one 1x64x64 image."""
    net.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net(torch.zeros(1, 1, SIZE, SIZE))
    net.train()
    return counter.get_total_flops() / 1e9


def images_per_second(net: UNet, bf16: bool, channels_last: bool, batch: int, steps: int) -> float:
    """Training images/s of the fastest of `steps` timed steps after one warm-up step."""
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    net = net.to(memory_format=memory_format)
    images = torch.randn(batch, 1, SIZE, SIZE).to(memory_format=memory_format)
    masks = torch.randint(0, NUM_CLASSES, (batch, SIZE, SIZE))
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        autocast = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
        with autocast:
            loss = F.cross_entropy(net(images), masks)
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return batch / min(times[1:])  # the first step builds oneDNN's kernels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=4, help="timed training steps per variant")
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(2)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}x1x{SIZE}x{SIZE}")
    print(f"{'variant':32} {'params':>9} {'GFLOPs/img':>10} {'train img/s':>11}")
    for label, options, bf16, channels_last in VARIANTS:
        torch.manual_seed(0)
        net = UNet(1, NUM_CLASSES, **{**BASE, **options})
        params = sum(p.numel() for p in net.parameters())
        gflops = forward_gflops(net)
        speed = images_per_second(net, bf16, channels_last, args.batch, args.steps)
        print(f"{label:32} {params:>9,} {gflops:>10.3f} {speed:>11.1f}")


if __name__ == "__main__":
    main()
