"""The transfer check's report (conf/experiment/transfer_check.yaml): does transfer learning help on this data?

After the sweep's three arms (scratch, frozen, finetuned) it writes `check.md` in the sweep directory, one row
per arm from what each job left (metrics.json, status.json), and a verdict: the best arm by test accuracy
against the scratch baseline, in points and in time. It is printed as well.
"""

from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from src.summarize import _markdown_table, _read_json

ARMS = ("scratch", "frozen", "finetuned")


def arm_row(job: Path) -> dict[str, Any]:
    """One arm's row: test accuracy and macro F1 (%), the last epoch's train-minus-validation accuracy (points;
    large: over-fitting), the fit's seconds and training images per second."""
    metrics, status = _read_json(job / "metrics.json"), _read_json(job / "status.json")
    last = status.get("last_epoch", {})
    gap = 100 * (last["train/acc"] - last["val/acc"]) if {"train/acc", "val/acc"} <= last.keys() else None
    return {
        "arm": job.name,
        "test accuracy (%)": 100 * metrics["test/acc"] if "test/acc" in metrics else None,
        "macro F1 (%)": 100 * metrics["test/f1"] if "test/f1" in metrics else None,
        "train-val gap (points)": gap,
        "epochs": status.get("epochs"),
        "fit time (s)": status.get("fit_seconds"),
        "images/s": status.get("images_per_second"),
        "status": status.get("status", "not started"),
    }


def verdict(rows: list[dict[str, Any]]) -> str:
    """One line: which arm wins on test accuracy, and by how much over scratch, at what multiple of its time."""
    done = {row["arm"]: row for row in rows if row["test accuracy (%)"] is not None and row["fit time (s)"]}
    if "scratch" not in done or len(done) < 2:
        return "no verdict: the scratch arm and at least one transfer arm must finish (see status above)"
    base = done["scratch"]
    best = max((row for row in done.values() if row["arm"] != "scratch"), key=lambda row: row["test accuracy (%)"])
    points = best["test accuracy (%)"] - base["test accuracy (%)"]
    cost = best["fit time (s)"] / base["fit time (s)"]
    if points > 0:
        return f"transfer helps here: {best['arm']}: +{points:.1f} points over scratch at {cost:.1f}x the time"
    behind = f"the best, {best['arm']}, is {-points:.1f} points behind scratch"
    return f"transfer does not help here: {behind} at {cost:.1f}x the time"


def write_report(sweep: Path) -> str:
    rows = [arm_row(sweep / arm) for arm in ARMS if (sweep / arm).is_dir()]
    text = f"# Transfer check\n\n{_markdown_table(rows)}\n{verdict(rows)}\n"
    (sweep / "check.md").write_text(text)
    return text


class TransferCheck(Callback):
    """Hydra callback of experiment=transfer_check: the report at the end of the sweep."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep = Path(config.hydra.sweep.dir)
        print(write_report(sweep), end="")
        print(f"transfer check: {sweep / 'check.md'}")
