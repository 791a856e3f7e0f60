"""The transfer study's results: one row per run (CSV), a Markdown table, two plots and TensorBoard summaries.

Reads what `src.train` left in each run directory: `metrics.json` (test accuracy) and the wall times of its
TensorBoard events: a run's training time is from its first event (written as fitting starts) to its last
epoch's `train/acc` (data setup, sanity check, training and validation; not the test).
"""

import csv
import json
import statistics
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files, never a window

import matplotlib.pyplot as plt
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.tensorboard import SummaryWriter

STRATEGIES = ("freeze", "finetune", "gradual", "scratch")
COLOURS = {"freeze": "tab:blue", "finetune": "tab:orange", "gradual": "tab:green", "scratch": "tab:grey"}
MARKERS = {"in-domain": "o", "dissimilar": "s", "pretrained": "^"}
SHARED_SCRATCH = {"dissimilar": "in-domain"}  # same target, same net: one set of scratch runs serves both


def collect(out: Path) -> list[dict]:
    """One row per finished target run: pair, strategy, fraction, seed, test accuracy, training seconds."""
    rows = []
    for metrics in sorted(out.glob("*/*/*_*/metrics.json")):
        run = metrics.parent
        pair, fraction, (strategy, seed) = run.parents[1].name, run.parent.name, run.name.rsplit("_", 1)
        events = _events(run)
        rows.append({
            "pair": pair, "strategy": strategy, "fraction": float(fraction), "seed": int(seed),
            "test_acc": json.loads(metrics.read_text())["test/acc"],
            "train_seconds": events.Scalars("train/acc")[-1].wall_time - events.FirstEventTimestamp(),
        })  # fmt: skip
    for pair, source in SHARED_SCRATCH.items():
        if any(row["pair"] == pair for row in rows):
            rows += [{**row, "pair": pair} for row in rows if row["pair"] == source and row["strategy"] == "scratch"]
    return rows


def means(rows: list[dict], key: str = "test_acc") -> dict[tuple[str, str, float], float]:
    """(pair, strategy, fraction) -> the mean of `key` over seeds."""
    groups = defaultdict(list)
    for row in rows:
        groups[row["pair"], row["strategy"], row["fraction"]].append(row[key])
    return {group: statistics.fmean(values) for group, values in groups.items()}


def _events(run: Path) -> EventAccumulator:
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0})
    events.Reload()
    return events


def epoch_seconds(run: Path) -> list[float]:
    """Seconds of each epoch (training and validation) of a run, from its TensorBoard events' wall times."""
    events = _events(run)
    ends = [event.wall_time for event in events.Scalars("train/acc")]
    start = events.Scalars("train/loss")[0].wall_time  # the first logged step: close to the epoch's start
    return [b - a for a, b in zip([start, *ends], ends, strict=False)]


def table(rows: list[dict]) -> list[str]:
    """Markdown: a line per pair and strategy, test accuracy (mean over seeds, %) per fraction."""
    fractions = sorted({row["fraction"] for row in rows})
    acc, seconds = means(rows), means(rows, "train_seconds")
    lines = ["| pair | strategy | " + " | ".join(f"{f:.0%}" for f in fractions) + " | train s (mean) |",
             "|---|---|" + "---|" * len(fractions) + "---|"]  # fmt: skip
    for pair in MARKERS:
        for strategy in STRATEGIES:
            cells = [acc.get((pair, strategy, f)) for f in fractions]
            if all(cell is None for cell in cells):
                continue
            times = [seconds[pair, strategy, f] for f in fractions if (pair, strategy, f) in seconds]
            text = " | ".join("" if cell is None else f"{100 * cell:.2f}" for cell in cells)
            lines.append(f"| {pair} | {strategy} | {text} | {statistics.fmean(times):.1f} |")
    return lines


def gaps(rows: list[dict]) -> list[str]:
    """finetune minus scratch (and freeze minus scratch) at the smallest fraction, per pair, in points."""
    acc, smallest = means(rows), min(row["fraction"] for row in rows)
    lines = []
    for pair in MARKERS:
        if (pair, "scratch", smallest) not in acc:
            continue
        parts = [f"{s} {100 * (acc[pair, s, smallest] - acc[pair, 'scratch', smallest]):+.2f}"
                 for s in ("finetune", "gradual", "freeze") if (pair, s, smallest) in acc]  # fmt: skip
        lines.append(f"- {pair}, {smallest:.0%} of the target data, vs scratch: {', '.join(parts)} points")
    return lines


def plot_fractions(rows: list[dict]) -> plt.Figure:
    pairs = [pair for pair in MARKERS if any(row["pair"] == pair for row in rows)]
    figure, axes = plt.subplots(1, len(pairs), figsize=(4.5 * len(pairs), 3.8), squeeze=False, sharey=True)
    acc = means(rows)
    for ax, pair in zip(axes[0], pairs, strict=True):
        for strategy in STRATEGIES:
            points = sorted((f, a) for (p, s, f), a in acc.items() if (p, s) == (pair, strategy))
            seeds = [
                (row["fraction"], row["test_acc"]) for row in rows if (row["pair"], row["strategy"]) == (pair, strategy)
            ]
            if points:
                ax.plot(*zip(*points, strict=True), marker="o", color=COLOURS[strategy], label=strategy)
                ax.scatter(*zip(*seeds, strict=True), s=8, color=COLOURS[strategy], alpha=0.5)
        ax.set(xscale="log", title=pair, xlabel="fraction of the target's training set")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test accuracy (line: mean over seeds)")
    axes[0][-1].legend()
    figure.tight_layout()
    return figure


def plot_times(rows: list[dict]) -> plt.Figure:
    figure, ax = plt.subplots(figsize=(6.5, 4.2))
    for row in rows:
        ax.scatter(row["train_seconds"], row["test_acc"], color=COLOURS[row["strategy"]],
                   marker=MARKERS[row["pair"]], s=10 + 30 * row["fraction"] ** 0.5, alpha=0.7)  # fmt: skip
    for strategy, colour in COLOURS.items():
        ax.scatter([], [], color=colour, label=strategy)
    for pair, marker in MARKERS.items():
        ax.scatter([], [], color="black", marker=marker, label=pair)
    ax.set(xscale="log", xlabel="training wall time per run (s)", ylabel="test accuracy")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def write(out: Path, results: Path, minutes: float | None) -> None:
    """results.csv, results.md, accuracy_vs_fraction.png, accuracy_vs_time.png in `results`; TensorBoard in out."""
    rows = collect(out)
    with open(results / "results.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(sorted(rows, key=lambda r: (r["pair"], r["strategy"], r["fraction"], r["seed"])))
    lines = ["# Transfer study: test accuracy (%, mean over seeds)", "", *table(rows), "", *gaps(rows)]
    if (out / "epoch_times").is_dir():
        for strategy in ("freeze", "finetune"):
            times = ", ".join(f"{t:.1f}" for t in epoch_seconds(out / "epoch_times" / strategy))
            lines.append(f"- epoch seconds, {strategy}, in-domain target 20%, same data: {times}")
    if minutes is not None:
        lines.append(f"- study wall time: {minutes:.1f} min")
    (results / "results.md").write_text("\n".join(lines) + "\n")
    tensorboard = SummaryWriter(str(out / "tensorboard"))
    for (pair, strategy, fraction), value in sorted(means(rows).items()):
        tensorboard.add_scalar(f"{pair}/{strategy}/test_acc_vs_percent", value, round(100 * fraction))
    for name, figure in (("accuracy_vs_fraction", plot_fractions(rows)), ("accuracy_vs_time", plot_times(rows))):
        figure.savefig(results / f"{name}.png", dpi=90)
        tensorboard.add_figure(f"study/{name}", figure)
    tensorboard.close()
    print("\n".join(lines))
