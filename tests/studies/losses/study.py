"""Every loss on its problem: `make loss-study` (python -m tests.studies.losses.study [--quick]).

Each of the seven losses trains on each problem it fits, by Hydra multiruns of `src.train`, beside
scikit-learn's standard models on the same folds:
- tables, 5 folds each (`data.fold=0,1,2,3,4`), their recipes (conf/recipe/<data>.yaml): diabetes (regression),
  breast_cancer (binary), wine (3 classes); RidgeCV, LogisticRegression and LinearSVC(loss="hinge") fitted on
  the same training rows and standardisation (baselines.py);
- images, the official test split: Fashion-MNIST (the default CNN) and fashion_seg (the default U-Net), one epoch
  of half their training set each; fashion_multilabel at one minute per loss; fashion_multilabel (bce) and
  fashion_boxes (mse) with their data set's recipe, alone on the machine (their 5-minute budget is the recipe's).
Which loss fits which problem is the project's own check (`build`, before any data loads); a refused combination
is a "does not fit" row with its one-line reason. `elbo`, KL's real home, is the generative task's: its row
quotes the README's measured figure. Runs go to outputs/loss_study/<time>/; results.csv, results.md and the plot
to this folder (report.py); with --quick (tiny budgets, ~2 minutes: does the pipeline run?) to the run folder.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig

from tests.studies.losses import report

ROOT = Path(__file__).resolve().parents[3]
LOSSES = ("mse", "bce", "cce", "hinge", "kl", "dice", "jaccard")
FOLDS = (0, 1, 2, 3, 4)
# Every run: no pictures (seconds per validation); the test metrics and status.json are read.
COMMON = ["~callbacks.images", "callbacks.progress_bar.refresh_rate=0"]
CAP = "trainer.max_time=00:00:02:00"
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # two jobs side by side on the two cores
QUICK_TABLES = ["trainer.max_epochs=2"]
QUICK_IMAGES = ["trainer.max_epochs=1", "trainer.limit_train_batches=3", "trainer.limit_val_batches=2",
                "trainer.limit_test_batches=2", "trainer.max_time=null"]  # fmt: skip


@dataclass
class Study:
    """One problem: its data config and budget; every loss of `losses` that fits it trains (one sweep)."""

    name: str
    data: str
    overrides: list[str] = field(default_factory=list)
    losses: tuple[str, ...] = LOSSES
    folds: bool = False  # a table: 5 folds
    alone: bool = False  # the whole machine (a 5-minute budget measured alone), after the others


STUDIES = [
    Study("diabetes", "diabetes", folds=True),
    Study("breast_cancer", "breast_cancer", folds=True),
    Study("wine", "wine", folds=True),
    # One epoch over half the training images (one-cycle over it, ~1.3 min on one thread), the whole test split;
    # max_time caps a run that the CPU makes slower than planned.
    Study("fashion_mnist", "fashion_mnist", ["data.train_fraction=0.5", "trainer.max_epochs=1", CAP]),
    Study("fashion_seg", "fashion_seg", ["data.train_size=3200", "trainer.max_epochs=1", CAP]),
    # The recipe's net and optimiser, one minute per loss: the same budget for every loss, bce included.
    Study("fashion_multilabel_1min", "fashion_multilabel", ["trainer.max_time=00:00:01:00"]),
    Study("fashion_multilabel", "fashion_multilabel", losses=("bce",), alone=True),
    Study("fashion_boxes", "fashion_boxes", alone=True),
]
# KL's real problem is the generative task (a VAE's KL term): measured in the README, not retrained here.
GENERATIVE = {
    "study": "generative", "data": "fashion_mnist_binarized", "model": "vae_mlp", "loss": "elbo (KL term)",
    "metric": "test/iw_bound (nats)", "mean": 233.39, "std": "", "n": 1, "fit_s": 162.1, "budget": "30 epochs",
    "note": "quoted from README#generative-variational-autoencoders (experiment=vae_5min, -ELBO 235.82), not retrained",
}  # fmt: skip


def data_overrides(study: Study, quick: bool) -> list[str]:
    """What a study's runs override (the loss, the folds and hydra.* aside)."""
    budget = (QUICK_TABLES if study.folds else QUICK_IMAGES) if quick else []
    return [f"data={study.data}", *study.overrides, *budget]


def fold_values(quick: bool) -> tuple[int, ...]:
    return FOLDS[:2] if quick else FOLDS


def sweep(study: Study, losses: list[str], out: Path, quick: bool) -> list[str]:
    """The multirun's overrides: the losses that fit (and the folds), one job directory each."""
    folds = ",".join(map(str, fold_values(quick)))
    subdir = "${hydra.runtime.choices.loss}" + ("_fold${data.fold}" if study.folds else "")
    return [
        *COMMON, *data_overrides(study, quick), f"loss={','.join(losses)}", *([f"data.fold={folds}"] * study.folds),
        f"hydra.sweep.dir={out / study.name}", f"hydra.sweep.subdir={subdir}",
    ]  # fmt: skip


def fits(study: Study, quick: bool) -> dict[str, dict]:
    """loss -> {"fits": bool, "reason": the one-line refusal, "budget": epochs / max_time, "model": the net}, from
    `src.run.build.build` on the composed config, as `python -m src.train` checks it before any data loads."""
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    from src.run.build import build

    verdicts = {}
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        for loss in study.losses:
            cfg = compose("train", [*data_overrides(study, quick), f"loss={loss}"], return_hydra_config=True)
            HydraConfig.instance().set_config(cfg)  # the refusals name the choices as the command line does
            with open_dict(cfg):
                model = cfg.hydra.runtime.choices.model
                del cfg["hydra"]
            try:
                build(cfg)
                verdicts[loss] = {"fits": True, "reason": "", "budget": budget(cfg, study), "model": model}
            except ValueError as error:
                verdicts[loss] = {"fits": False, "reason": str(error).splitlines()[0], "budget": "", "model": model}
    return verdicts


def budget(cfg: DictConfig, study: Study) -> str:
    """What a run trains for: the composed epochs and time limit (the recipe's or the study's), the data cuts."""
    parts = [f"{cfg.trainer.max_epochs} epochs"]
    if cfg.trainer.max_time:
        parts.append(f"max {cfg.trainer.max_time}")
    return ", ".join(parts + [override for override in study.overrides if override.startswith("data.")])


def train(overrides: list[str], threads: dict[str, str]) -> None:
    """One multirun of src.train; a job that fails is a row of the report (its error line), not the study's end."""
    command = [sys.executable, "-m", "src.train", "-m", *overrides]
    print("$ python", " ".join(command[1:]), flush=True)
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env={**os.environ, **threads})
    if result.returncode != 0:
        print(f"a job failed (its error is in the report): {result.stderr.strip().splitlines()[-1:]}", flush=True)


def run(out: Path, quick: bool) -> dict[str, dict[str, dict]]:
    """Check every study's losses, train those that fit (two sweeps side by side, then the alone ones), return
    the verdicts (also written to <out>/fits.json for --report-only)."""
    verdicts = {study.name: fits(study, quick) for study in STUDIES}
    (out / "fits.json").write_text(json.dumps(verdicts, indent=2))
    sweeps = {
        study.name: sweep(study, [loss for loss, v in verdicts[study.name].items() if v["fits"]], out, quick)
        for study in STUDIES
    }
    shared = [study.name for study in STUDIES if not study.alone]
    # The image sweeps first: they are the long ones, so that the two workers finish together.
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda name: train(sweeps[name], ONE_THREAD), sorted(shared, key=lambda n: "fashion" not in n)))
    for study in STUDIES:
        if study.alone:
            train(sweeps[study.name], {})
    return verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "loss_study" / stamp)
    parser.add_argument("--quick", action="store_true", help="tiny budgets, 2 folds: the whole pipeline in minutes")
    parser.add_argument("--results", type=Path, help="where the report goes (default: this folder; --quick: --out)")
    parser.add_argument("--report-only", action="store_true", help="re-read the runs in --out, train nothing")
    args = parser.parse_args()
    out = args.out.resolve()
    results = args.results or (out if args.quick else Path(__file__).parent)
    start = time.monotonic()
    if args.report_only:
        verdicts = json.loads((out / "fits.json").read_text())
    else:
        out.mkdir(parents=True, exist_ok=True)
        verdicts = run(out, args.quick)
    tables = [study for study in STUDIES if study.folds]
    folds = fold_values(args.quick)
    baselines = {
        study.name: report.baseline_rows(
            study.data, [[*data_overrides(study, args.quick), f"data.fold={k}"] for k in folds]
        )
        for study in tables
    }
    minutes = None if args.report_only else (time.monotonic() - start) / 60
    report.write(out, results, STUDIES, verdicts, baselines, GENERATIVE, minutes)


if __name__ == "__main__":
    main()
