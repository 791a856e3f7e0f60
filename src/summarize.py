"""python -m src.summarize <sweep dir>: one row per job of a sweep, as summary.csv and summary.md in that directory.

Hydra calls the same code at the end of every sweep (conf/hydra/default.yaml); run it by hand for a sweep that
was interrupted or is still running. Reads what each job directory holds: .hydra/overrides.yaml, status.json
(status, best monitored value, epochs, times, the error line of a failed job) and metrics.json (test metrics).
Jobs that differ only in the fold or the seed (a cross-validation, repeated seeds) are also summarised together:
each metric's mean and standard deviation, in summary.md under the per-job rows and in summary_mean_std.csv.
"""

import csv
import io
import json
import os
import socket
import statistics
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

TIME = "%Y-%m-%d %H:%M:%S"
# Overrides that repeat an experiment rather than change it: jobs differing only in these are averaged.
REPEATS = ("data.fold", "seed", "data.seed")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _alive(status: dict[str, Any]) -> bool:
    """Whether the process that wrote a "running" status still runs (only knowable on the same host)."""
    if status.get("host") != socket.gethostname() or "pid" not in status:
        return True
    try:
        os.kill(status["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _overrides(job: Path) -> list[str]:
    path = job / ".hydra" / "overrides.yaml"
    return [str(override) for override in OmegaConf.load(path)] if path.is_file() else []


def job_row(job: Path) -> dict[str, Any]:
    """One job directory -> its summary row."""
    status = _read_json(job / "status.json")
    state = status.get("status", "not started")
    if state == "running" and not _alive(status):
        state = "interrupted"
    row: dict[str, Any] = {"job": job.name, "status": state, "overrides": " ".join(_overrides(job))}
    for monitored, value in (status.get("best") or {}).items():
        row[f"{monitored} (best)"] = value
    # Whole-split test metrics; per-class ones (test/iou/<class>) stay in each job's metrics.json.
    row |= {key: value for key, value in _read_json(job / "metrics.json").items() if key.count("/") == 1}
    row["epochs"] = status.get("epochs", "")
    row["fit time (s)"] = status.get("fit_seconds", "")
    if "started" in status and state != "running":
        seconds = datetime.strptime(status["time"], TIME) - datetime.strptime(status["started"], TIME)
        row["wall time (s)"] = int(seconds.total_seconds())
    if "slurm_job" in status:  # its logs: <sweep>/.submitit/<slurm job>/
        row["slurm job"] = status["slurm_job"]
    row["error"] = status.get("error", "")
    return row


def summarize(sweep: str | Path) -> list[dict[str, Any]]:
    """Write summary.csv and summary.md for the jobs under `sweep` (job directories hold .hydra/); return rows."""
    sweep = Path(sweep)
    jobs = sorted((p.parent for p in sweep.glob("*/.hydra")), key=lambda p: (len(p.name.split("_")[0]), p.name))
    rows = [job_row(job) for job in jobs]
    columns = list(dict.fromkeys(key for row in rows for key in row))
    groups = mean_std(rows, [_overrides(job) for job in jobs])
    markdown = _markdown(rows, columns)
    if groups:
        markdown += "\nMean ± standard deviation over " + ", ".join(REPEATS) + " (completed jobs):\n\n"
        markdown += _markdown_table([{k: _plus_minus(v) for k, v in group.items()} for group in groups])
    # Written whole and renamed: parallel jobs (joblib, submitit) may summarise at the same moment.
    texts = {"summary.csv": _csv(rows, columns), "summary.md": markdown}
    if groups:
        texts["summary_mean_std.csv"] = _csv(*_flat(groups))
    for name, text in texts.items():
        partial = sweep / f".{name}.{os.getpid()}.tmp"
        partial.write_text(text)
        os.replace(partial, sweep / name)
    return rows


def mean_std(rows: list[dict[str, Any]], overrides: list[list[str]]) -> list[dict[str, Any]]:
    """Completed jobs grouped by their overrides other than REPEATS -> per group with two jobs or more: the
    shared overrides, the job count and, per metric column ("stage/name"), (mean, population std) of its values.
    """
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row, given in zip(rows, overrides, strict=True):
        if row["status"] == "completed":
            key = " ".join(o for o in given if o.split("=", 1)[0].lstrip("+~") not in REPEATS)
            grouped.setdefault(key, []).append(row)
    groups = []
    for key, members in grouped.items():
        if len(members) < 2:
            continue
        metrics = [c for c in dict.fromkeys(k for row in members for k in row) if "/" in c]
        group: dict[str, Any] = {"overrides": key, "jobs": len(members)}
        for metric in metrics:
            values = [row[metric] for row in members if isinstance(row.get(metric), int | float)]
            if values:
                group[metric] = (statistics.fmean(values), statistics.pstdev(values))
        groups.append(group)
    return groups


def _plus_minus(value: Any) -> Any:
    return f"{value[0]:.4g} ± {value[1]:.2g}" if isinstance(value, tuple) else value


def _flat(groups: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """(mean, std) cells -> "<metric> mean" and "<metric> std" columns, for the CSV."""
    rows = []
    for group in groups:
        row = {}
        for key, value in group.items():
            row |= {f"{key} mean": value[0], f"{key} std": value[1]} if isinstance(value, tuple) else {key: value}
        rows.append(row)
    return rows, list(dict.fromkeys(key for row in rows for key in row))


def _csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    table = io.StringIO()
    writer = csv.DictWriter(table, columns)
    writer.writeheader()
    writer.writerows(rows)
    return table.getvalue()


def _markdown_table(rows: list[dict[str, Any]]) -> str:
    def cell(value: Any) -> str:
        return f"{value:.4g}" if isinstance(value, float) else str(value).replace("|", "\\|")

    columns = list(dict.fromkeys(key for row in rows for key in row))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(column, "")) for column in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _markdown(rows: list[dict[str, Any]], columns: list[str]) -> str:
    lines = [_markdown_table([{column: row.get(column, "") for column in columns} for row in rows]).rstrip("\n")]
    failed = [row for row in rows if row["status"] != "completed"]
    if failed:
        lines += ["", "Jobs that did not complete:", ""]
        lines += [f"- {row['job']}: {row['status']}{': ' + row['error'] if row['error'] else ''}" for row in failed]
    return "\n".join(lines) + "\n"


class SweepSummary(Callback):
    """Hydra callback (conf/hydra/default.yaml): the summary after every job, so that it is there even when a
    sweep is killed, and at the end of the sweep, which exits with 1 if a job did not complete."""

    def on_job_end(self, config: DictConfig, **kwargs: Any) -> None:
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            summarize(Path(HydraConfig.get().sweep.dir))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep = Path(config.hydra.sweep.dir)
        rows = summarize(sweep)
        done = sum(row["status"] == "completed" for row in rows)
        print(f"sweep summary: {sweep / 'summary.md'} ({done} of {len(rows)} jobs completed)")
        if done < len(rows):
            sys.exit(1)


def main() -> None:
    if len(sys.argv) != 2 or not Path(sys.argv[1]).is_dir():
        print(
            "usage: python -m src.summarize <sweep dir>  (e.g. outputs/multirun/2026-11-25_10-00-00)", file=sys.stderr
        )
        sys.exit(1)
    summarize(sys.argv[1])
    print((Path(sys.argv[1]) / "summary.md").read_text(), end="")


if __name__ == "__main__":
    main()
