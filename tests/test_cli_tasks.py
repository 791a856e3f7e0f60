"""The regression, binary and multi-label tasks through the CLI: every table and the multi-label canvases train
for real and their loss falls; a CSV the test writes runs with two regression targets; a fold sweep is summarised
with each metric's mean and standard deviation over the folds."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.conftest import run_cli, write_mnist_like

SHORT = ["trainer.max_epochs=3", "trainer.log_every_n_steps=1", "callbacks.progress_bar.refresh_rate=0"]


def tags(run: Path) -> dict[str, list[str]]:
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0, "histograms": 0, "tensors": 0})
    events.Reload()
    return events.Tags()


def scalars(run: Path, tag: str) -> list[float]:
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0})
    events.Reload()
    return [event.value for event in events.Scalars(tag)]


@pytest.mark.parametrize(
    ("data", "metrics"),
    [
        ("wine", {"test/acc", "test/f1"}),
        ("breast_cancer", {"test/acc", "test/auroc", "test/f1", "test/ece"}),
    ],
)
def test_a_table_trains_and_its_loss_falls(data: str, metrics: set[str], tmp_path: Path) -> None:
    run_cli("train", f"data={data}", *SHORT, f"hydra.run.dir={tmp_path}")
    losses = scalars(tmp_path, "train/loss")
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3])
    scores = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics <= set(scores) and scores["test/acc"] > 0.8
    if data == "breast_cancer":  # the binary pictures at test
        found = tags(tmp_path)
        assert {"test/roc", "test/reliability"} <= set(found["images"]) and "test/pr_curve" in found["tensors"]


def test_a_cross_validation_sweep_reports_mean_and_std_over_the_folds(tmp_path: Path) -> None:
    run_cli("train", "-m", "data=diabetes", "data.fold=0,1", *SHORT, f"hydra.sweep.dir={tmp_path}")
    losses = scalars(tmp_path / "0_fold=0", "train/loss")
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3])
    events = EventAccumulator(str(tmp_path / "0_fold=0" / "tensorboard"), size_guidance={"images": 0, "histograms": 0})
    events.Reload()
    assert len(events.Images("val/predicted_vs_true")) == 3 and len(events.Histograms("val/residuals")) == 3
    folds = [json.loads((tmp_path / job / "metrics.json").read_text()) for job in ("0_fold=0", "1_fold=1")]
    assert all(40 < fold["test/rmse"] < 90 and fold["test/r2"] > 0 for fold in folds)  # in the target's units
    with open(tmp_path / "summary_mean_std.csv") as file:
        (group,) = list(csv.DictReader(file))
    r2 = [fold["test/r2"] for fold in folds]
    assert group["jobs"] == "2" and float(group["test/r2 mean"]) == pytest.approx(np.mean(r2), rel=1e-6)
    assert float(group["test/r2 std"]) == pytest.approx(np.std(r2), rel=1e-6)  # over folds, population std
    assert "Mean ± standard deviation over data.fold" in (tmp_path / "summary.md").read_text()


def test_a_csv_of_ones_own_trains_with_two_regression_targets(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(200, 3))
    colour = rng.choice(["red", "green"], 200)
    path = tmp_path / "houses.csv"
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["a", "b", "c", "colour", "id", "price", "rent"])
        for index, (values, name) in enumerate(zip(rows, colour, strict=True)):
            price = 100 + 20 * values[0] - 10 * values[1] + 5 * (name == "red")
            writer.writerow([*values, name, index, price, price / 10 + values[2]])
    run_cli("train", "data=table", "task=regression", f"data.path={path}", "data.target=[price,rent]",
            "data.num_targets=2", "data.categorical=[colour]", "data.drop=[id]", "data.num_features=5", *SHORT,
            "trainer.max_epochs=6", f"hydra.run.dir={tmp_path / 'run'}")  # fmt: skip
    losses = scalars(tmp_path / "run", "train/loss")
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3])
    scores = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert {"test/rmse/price", "test/rmse/rent", "test/r2/price", "test/mae/rent"} <= set(scores)
    assert scores["test/rmse/price"] > scores["test/rmse/rent"]  # each in its own units: price varies 10x more


def test_multilabel_canvases_train_and_score_each_label(tmp_path: Path) -> None:
    items = write_mnist_like(tmp_path / "items", n_train=400, n_test=100, holes=True)
    # fp32: the recipe's bf16 costs this tiny run about 20 s of kernel set-up and is not what it tests
    run_cli("train", "data=fashion_multilabel", f"paths.data_dir={items}", "data.train_size=512", "data.val_size=64",
            "trainer.precision=32-true", "data.test_size=64", "data.canvas_size=[32,32]", "model.channels=[8,16]",
            "model.hidden_size=32", "data.batch_size=32", *SHORT, f"hydra.run.dir={tmp_path / 'run'}")  # fmt: skip
    losses = scalars(tmp_path / "run", "train/loss")
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3])
    scores = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert {"test/map", "test/f1_micro", "test/f1_macro", "test/ap/Trouser", "test/ap/Ankle boot"} <= set(scores)
    assert scores["test/map"] > 0.3  # chance: the share of canvases showing a class, about 0.2
    assert {"val/predictions", "test/ap_per_label"} <= set(tags(tmp_path / "run")["images"])


def test_box_canvases_train_and_score_in_pixels_and_iou(tmp_path: Path) -> None:
    items = write_mnist_like(tmp_path / "items", n_train=400, n_test=100, holes=True)
    run_cli("train", "data=fashion_boxes", f"paths.data_dir={items}", "data.train_size=512", "data.val_size=64",
            "data.test_size=64", "data.canvas_size=[40,40]", "model.channels=[8,16]", "model.hidden_size=32",
            "data.batch_size=32", *SHORT, f"hydra.run.dir={tmp_path / 'run'}")  # fmt: skip
    losses = scalars(tmp_path / "run", "train/loss")
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3])
    scores = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert {"test/iou", "test/rmse_px", "test/rmse/x0", "test/r2/y1"} <= set(scores)
    assert 0 < scores["test/rmse_px"] < 12 and scores["test/iou"] > 0.2  # pixels of a 40x40 canvas
    assert "val/boxes" in tags(tmp_path / "run")["images"]
