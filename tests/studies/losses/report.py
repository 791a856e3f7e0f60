"""The loss study's report: one row per problem x loss (CSV), the Markdown table and a bar chart per problem.

Reads what `src.train` left in each job directory of a study's sweep (<out>/<study>/<loss>[_fold<k>]/), through
the sweep summary's own reader (`src.summarize.job_row`: status, test metrics, fit seconds); a loss the
project's check refused is a "does not fit" row with its reason, a job that failed one with its error line.
"""

import csv
import statistics
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files, never a window

import matplotlib.pyplot as plt

from src.summarize import job_row
from tests.studies.losses.baselines import per_fold

# Per data set: the metric the table ranks by, then the ones it shows beside it.
METRICS = {
    "diabetes": ("test/r2", "test/rmse"),
    "breast_cancer": ("test/acc", "test/auroc", "test/ece"),
    "wine": ("test/acc",),
    "fashion_mnist": ("test/acc", "test/f1"),
    "fashion_seg": ("test/miou",),
    "fashion_multilabel": ("test/map", "test/f1_macro"),
    "fashion_boxes": ("test/iou", "test/rmse_px"),
}
COLUMNS = ["study", "data", "model", "loss", "metric", "mean", "std", "n", "fit_s", "budget", "note"]


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.pstdev(values)


def _more(metrics: dict[str, list[float]], names: tuple[str, ...]) -> str:
    """The secondary metrics as text: "test/auroc 0.994 ± 0.004"."""
    parts = []
    for name in names:
        if metrics.get(name):
            mean, std = _mean_std(metrics[name])
            parts.append(f"{name} {mean:.4g}" + (f" ± {std:.2g}" if len(metrics[name]) > 1 else ""))
    return ", ".join(parts)


def loss_row(study: Any, loss: str, verdict: dict, jobs: list[Path]) -> dict[str, Any]:
    """A study's loss: its metric's mean and std over the completed jobs (folds), their count, mean fit time."""
    primary, *others = METRICS[study.data]
    row = {"study": study.name, "data": study.data, "model": verdict["model"], "loss": loss, "metric": primary,
           "mean": "", "std": "", "n": 0, "fit_s": "", "budget": verdict["budget"], "note": ""}  # fmt: skip
    if not verdict["fits"]:
        return row | {"note": f"does not fit: {verdict['reason']}"}
    rows = [job_row(job) for job in jobs]
    done = [r for r in rows if r["status"] == "completed" and isinstance(r.get(primary), float)]
    failed = [f"{r['job']}: {r['status']} {r['error']}".strip() for r in rows if r not in done]
    notes = failed if rows else ["no job ran"]
    if done:
        metrics = {name: [r[name] for r in done if isinstance(r.get(name), float)] for name in METRICS[study.data]}
        mean, std = _mean_std(metrics[primary])
        fit = statistics.fmean(float(r["fit time (s)"]) for r in done)
        row |= {"mean": round(mean, 4), "std": round(std, 4), "n": len(done), "fit_s": round(fit, 1)}
        notes.insert(0, _more(metrics, tuple(others)))
    return row | {"note": "; ".join(note for note in notes if note)}


def collect(out: Path, studies: list, verdicts: dict[str, dict[str, dict]], baselines: dict[str, list]) -> list[dict]:
    """One row per study x loss, in the studies' and the losses' order, each table's baselines after its losses."""
    rows = []
    for study in studies:
        for loss, verdict in verdicts[study.name].items():
            jobs = sorted(path.parent for path in (out / study.name).glob(f"{loss}*/.hydra"))
            rows.append(loss_row(study, loss, verdict, [job for job in jobs if job.name.split("_fold")[0] == loss]))
        rows += baselines.get(study.name, [])
    return rows


def baseline_rows(data: str, folds: list[list[str]]) -> list[dict[str, Any]]:
    """scikit-learn's models on the folds (each fold's data overrides, those of its runs), as report rows."""
    primary, *others = METRICS[data]
    rows = []
    for name, metrics in per_fold(data, folds).items():
        mean, std = _mean_std(metrics[primary])
        rows.append({"study": data, "data": data, "model": name, "loss": "(scikit-learn)", "metric": primary,
                     "mean": round(mean, 4), "std": round(std, 4), "n": len(folds), "fit_s": "",
                     "budget": "", "note": _more(metrics, tuple(others))})  # fmt: skip
    return rows


def _cell(row: dict[str, Any]) -> str:
    if row["mean"] == "":
        return ""
    return f"**{row['mean']:.4f}**" + (f" ± {row['std']:.4f}" if row["n"] > 1 and row["std"] != "" else "")


def table(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| problem | model | loss | metric | mean ± std | n | fit s | budget | notes |", "|" + "---|" * 9]
    for row in rows:
        note = row["note"].replace("|", "\\|")
        lines.append(f"| {row['study']} | {row['model']} | `{row['loss']}` | {row['metric']} | {_cell(row)} | "
                     f"{row['n']} | {row['fit_s']} | {row['budget']} | {note} |")  # fmt: skip
    return lines


def plot(rows: list[dict[str, Any]]) -> plt.Figure:
    """A panel per problem: a bar per loss (and baseline) that trained, its std as the error bar."""
    studies = list(dict.fromkeys(row["study"] for row in rows if row["mean"] != ""))
    columns = min(4, len(studies))
    shape = (-(-len(studies) // columns), columns)
    figure, axes = plt.subplots(*shape, figsize=(4.2 * shape[1], 3.0 * shape[0]), squeeze=False)
    for ax, study in zip(axes.flat, studies, strict=False):
        scored = [row for row in rows if row["study"] == study and row["mean"] != ""]
        names = [row["loss"] if row["loss"] != "(scikit-learn)" else row["model"] for row in scored]
        means = [row["mean"] for row in scored]
        errors = [row["std"] or 0 for row in scored]
        colours = ["tab:grey" if row["loss"] == "(scikit-learn)" else "tab:blue" for row in scored]
        ax.barh(names, means, xerr=errors, color=colours)
        low = min(means)
        ax.set(title=study, xlabel=scored[0]["metric"], xlim=(low - 0.1 * abs(low) - 0.02, None))
        ax.invert_yaxis()
        ax.grid(axis="x", alpha=0.3)
    for ax in list(axes.flat)[len(studies) :]:
        ax.axis("off")
    figure.tight_layout()
    return figure


def write(out: Path, results: Path, studies: list, verdicts: dict, baselines: dict[str, list], generative: dict,
          minutes: float | None) -> list[dict[str, Any]]:  # fmt: skip
    """results.csv, results.md and metric_by_loss.png in `results`; return the rows."""
    rows = [*collect(out, studies, verdicts, baselines), generative]
    results.mkdir(parents=True, exist_ok=True)
    with open(results / "results.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    lines = ["# Every loss on its problem (test split: tables 5-fold mean ± std, images the official split)", "",
             *table(rows)]  # fmt: skip
    if minutes is not None:
        lines += ["", f"- study wall time: {minutes:.1f} min"]
    (results / "results.md").write_text("\n".join(lines) + "\n")
    plot(rows).savefig(results / "metric_by_loss.png", dpi=90)
    print("\n".join(lines))
    return rows
