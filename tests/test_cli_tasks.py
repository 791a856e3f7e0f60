"""The regression, binary and multi-label tasks through the CLI: every table and the multi-label canvases train
for real and their loss falls; a CSV the test writes runs with two regression targets; a fold sweep is summarised
with each metric's mean and standard deviation over the folds. The trained runs then predict (python -m
src.predict) on tables and images the tests write, against the checkpoint's net applied here; the table MLP is
exported to ONNX and predicts the same through ONNX Runtime."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torchvision.transforms.v2.functional import resize

from src.run.build import build
from src.run.checkpoints import load_checkpoint
from tests.conftest import compose_config, run_cli, write_mnist_like

SHORT = ["trainer.max_epochs=3", "trainer.log_every_n_steps=1", "callbacks.progress_bar.refresh_rate=0"]


def tags(run: Path) -> dict[str, list[str]]:
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0, "histograms": 0, "tensors": 0})
    events.Reload()
    return events.Tags()


def scalars(run: Path, tag: str) -> list[float]:
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0})
    events.Reload()
    return [event.value for event in events.Scalars(tag)]


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def trained(ckpt: Path, *overrides: str) -> tuple:
    """The run's data module (set up: its training statistics) and task with the checkpoint's weights, here."""
    datamodule, task = build(compose_config("train", *overrides))
    load_checkpoint(ckpt, task)
    datamodule.setup("fit")
    return datamodule, task.eval()


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
        predicts_scores_and_decisions(tmp_path / "checkpoints" / "best.ckpt", tmp_path)


def predicts_scores_and_decisions(ckpt: Path, tmp_path: Path) -> None:
    """Breast-cancer rows written as a CSV with the data set's own column names -> score and predicted class."""
    import sklearn.datasets

    bunch = sklearn.datasets.load_breast_cancer()
    path = tmp_path / "patients.csv"
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["patient", *bunch.feature_names])
        writer.writerows([f"p{i}", *row] for i, row in enumerate(bunch.data[:40]))
    run_cli("predict", f"ckpt_path={ckpt}", f"input={path}", f"output={tmp_path / 'predicted'}")
    rows = read_rows(tmp_path / "predicted" / "predictions.csv")
    assert list(rows[0])[-2:] == ["score", "predicted"] and [row["patient"] for row in rows] == [
        f"p{i}" for i in range(40)
    ]
    assert all((row["predicted"] == "benign") == (float(row["score"]) > 0.5) for row in rows)
    truth = [bunch.target_names[t] for t in bunch.target[:40]]
    assert np.mean([row["predicted"] == name for row, name in zip(rows, truth, strict=True)]) > 0.8
    # The same rows as Parquet: the same predictions.
    import pyarrow
    import pyarrow.parquet

    columns = {"patient": [f"p{i}" for i in range(40)]} | dict(zip(bunch.feature_names, bunch.data[:40].T, strict=True))
    pyarrow.parquet.write_table(pyarrow.table(columns), tmp_path / "patients.parquet")
    run_cli("predict", f"ckpt_path={ckpt}", f"input={tmp_path / 'patients.parquet'}", f"output={tmp_path / 'pq'}")
    assert read_rows(tmp_path / "pq" / "predictions.csv") == rows


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
    overrides = ["data=table", "task=regression", f"data.path={path}", "data.target=[price,rent]", "data.num_targets=2",
                 "data.categorical=[colour]", "data.drop=[id]", "data.num_features=5"]  # fmt: skip
    predicts_a_table_in_the_targets_units(tmp_path, rows[:20], colour[:20], overrides)


def predicts_a_table_in_the_targets_units(
    tmp_path: Path, rows: np.ndarray, colour: np.ndarray, overrides: list
) -> None:
    """New rows (columns in another order, one more, a colour training never met) -> predicted_price and
    predicted_rent equal to the checkpoint's net on the rows one-hot encoded and standardised here; a table
    without a feature column: one line; ONNX Runtime writes the same file."""
    ckpt = tmp_path / "run" / "checkpoints" / "best.ckpt"
    names = ["blue", *colour[1:]]
    new = tmp_path / "new.csv"
    with open(new, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["note", "colour", "c", "b", "a"])
        writer.writerows([f"n{i}", name, c, b, a] for i, ((a, b, c), name) in enumerate(zip(rows, names, strict=True)))
    result = run_cli("predict", f"ckpt_path={ckpt}", f"input={new}", f"output={tmp_path / 'predicted'}")
    assert "column 'colour': 1 row(s) hold values training never met (blue); their one-hot features are all 0" in (
        result.stdout
    )
    predicted = read_rows(tmp_path / "predicted" / "predictions.csv")
    assert list(predicted[0]) == ["note", "colour", "c", "b", "a", "predicted_price", "predicted_rent"]
    assert [row["note"] for row in predicted] == [f"n{i}" for i in range(20)]
    datamodule, task = trained(ckpt, *overrides)
    one_hot = np.array([[name == "green", name == "red"] for name in names], dtype=np.float64)  # sorted values
    features = torch.tensor(np.concatenate([rows, one_hot], axis=1), dtype=torch.float32)
    with torch.no_grad():
        expected = task.predict(task.net((features - datamodule.feature_mean) / datamodule.feature_std))
    got = [[float(row["predicted_price"]), float(row["predicted_rent"])] for row in predicted]
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-5)
    assert 50 < np.mean(got, axis=0)[0] < 150  # prices, not standardised outputs

    without = tmp_path / "without_b.csv"
    without.write_text("".join(",".join(line.split(",")[:3] + line.split(",")[4:]) for line in new.open()))
    result = run_cli("predict", f"ckpt_path={ckpt}", f"input={without}", f"output={tmp_path / 'x'}", check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"error: {without} has no column 'b', a feature the run was trained on; its columns: note, colour, c, a" in (
        result.stderr
    )
    run_cli("export", f"ckpt_path={ckpt}", f"output={tmp_path / 'onnx'}")
    card = json.loads((tmp_path / "onnx" / "model.json").read_text())
    assert card["input"]["features"] == ["a", "b", "c", "colour=green", "colour=red"] and card["input"]["shape"] == [
        "batch", 5]  # fmt: skip
    np.testing.assert_allclose(card["input"]["mean"], datamodule.feature_mean.numpy(), rtol=1e-6)
    assert card["output"]["target_names"] == ["price", "rent"]
    run_cli("predict", f"ckpt_path={ckpt}", f"input={new}", f"output={tmp_path / 'by_onnx'}", "backend=onnx",
            f"onnx_path={tmp_path / 'onnx' / 'model.onnx'}")  # fmt: skip
    by_onnx = read_rows(tmp_path / "by_onnx" / "predictions.csv")
    np.testing.assert_allclose([[float(row[key]) for key in ("predicted_price", "predicted_rent")] for row in by_onnx],
                               got, rtol=1e-5)  # fmt: skip


def write_canvases(datamodule: object, folder: Path, scale: int) -> Path:
    """The run's first 4 test canvases as PNG files, each pixel repeated `scale` times in both directions."""
    folder.mkdir()
    for index, image in enumerate(datamodule.splits["test"].tensors[0][:4, 0].numpy()):
        Image.fromarray(image.repeat(scale, 0).repeat(scale, 1)).save(folder / f"canvas{index}.png")
    return folder


def test_multilabel_canvases_train_score_each_label_and_predict(tmp_path: Path) -> None:
    items = write_mnist_like(tmp_path / "items", n_train=400, n_test=100, holes=True)
    # fp32: the recipe's bf16 costs this tiny run about 20 s of kernel set-up and is not what it tests
    overrides = [
        f"paths.data_dir={items}",
        "trainer.precision=32-true",
        "data.train_size=512",
        "data.val_size=64",
        "data.test_size=64",
        "data.canvas_size=[32,32]",
        "model.channels=[8,16]",
        "model.hidden_size=32",
        "data.batch_size=32",
    ]
    overrides = ["data=fashion_multilabel", *overrides]
    run_cli("train", *overrides, *SHORT, f"hydra.run.dir={tmp_path / 'run'}")  # fmt: skip
    losses = scalars(tmp_path / "run", "train/loss")
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3])
    scores = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert {"test/map", "test/f1_micro", "test/f1_macro", "test/ap/Trouser", "test/ap/Ankle boot"} <= set(scores)
    assert scores["test/map"] > 0.3  # chance: the share of canvases showing a class, about 0.2
    assert {"val/predictions", "test/ap_per_label"} <= set(tags(tmp_path / "run")["images"])
    run = tmp_path / "run"
    datamodule, task = trained(run / "checkpoints" / "best.ckpt", *overrides)
    images = write_canvases(datamodule, tmp_path / "canvases", scale=1)
    run_cli("predict", f"ckpt_path={run / 'checkpoints' / 'best.ckpt'}", f"input={images}", f"output={run / 'p'}")
    rows = read_rows(run / "p" / "predictions.csv")
    assert task.mirror_average  # the recipe's: predict scores each canvas with its mirror, as the test stage did
    with torch.no_grad():
        expected = task.evaluation_net()(datamodule.preprocess(datamodule.splits["test"].tensors[0][:4])).sigmoid()
    scores = [[float(row[f"{name}_score"]) for name in datamodule.class_names] for row in rows]
    np.testing.assert_allclose(scores, expected.numpy(), atol=2e-6)  # 6 decimals
    assert all(
        row[name] == str(int(float(row[f"{name}_score"]) > 0.5)) for row in rows for name in datamodule.class_names
    )


def test_box_canvases_train_score_in_pixels_and_iou_and_predict_boxes_in_pixels(tmp_path: Path) -> None:
    items = write_mnist_like(tmp_path / "items", n_train=400, n_test=100, holes=True)
    # fp32: the recipe's bf16 costs this tiny run kernel set-up, and predict would round its boxes to bf16
    overrides = ["data=fashion_boxes", f"paths.data_dir={items}", "trainer.precision=32-true", "data.train_size=512",
                 "data.val_size=64", "data.test_size=64", "data.canvas_size=[40,40]", "model.channels=[8,16]",
                 "model.hidden_size=32", "data.batch_size=32"]  # fmt: skip
    run_cli("train", *overrides, *SHORT, f"hydra.run.dir={tmp_path / 'run'}")
    losses = scalars(tmp_path / "run", "train/loss")
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3])
    scores = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert {"test/iou", "test/rmse_px", "test/rmse/x0", "test/r2/y1"} <= set(scores)
    assert 0 < scores["test/rmse_px"] < 12 and scores["test/iou"] > 0.2  # pixels of a 40x40 canvas
    assert "val/boxes" in tags(tmp_path / "run")["images"]
    ckpt = tmp_path / "run" / "checkpoints" / "best.ckpt"
    datamodule, task = trained(ckpt, *overrides)
    for scale in (1, 2):  # canvases at the training size and twice as large: boxes in each image's own pixels
        write_canvases(datamodule, tmp_path / f"x{scale}", scale=scale)
    run_cli("predict", f"ckpt_path={ckpt}", f"input={tmp_path / 'x*' / '*.png'}", f"output={tmp_path / 'p'}",
            "overlay=true")  # fmt: skip
    rows = read_rows(tmp_path / "p" / "predictions.csv")  # x1/canvas0..3, then x2/canvas0..3
    values = np.array([[float(row[key]) for key in ("x0", "y0", "x1", "y1")] for row in rows])
    boxes = {1: values[:4], 2: values[4:]}
    for scale in (1, 2):
        with Image.open(tmp_path / "p" / "overlays" / f"x{scale}" / "canvas0.png") as drawn:
            assert drawn.size == (40 * scale, 40 * scale) and drawn.mode == "RGB"
    canvases = datamodule.splits["test"].tensors[0][:4]
    large = canvases.repeat_interleave(2, 2).repeat_interleave(2, 3)  # as written: resized back as documented
    for scale, images in ((1, canvases), (2, resize(large, [40, 40], antialias=True))):
        with torch.no_grad():
            expected = task.predict(task.net(datamodule.preprocess(images))) * 40 * scale
        np.testing.assert_allclose(boxes[scale], expected.numpy(), atol=0.051)  # printed to 0.1 px
