"""Real, short generative runs through the CLI: the negative ELBO falls, the test figures include the IW bound,
the pictures and the embedding projector land in TensorBoard, src.eval writes PNG grids, and combinations the
generative task cannot train fail before any data loads, with one line.

Images come from small IDX files in Fashion-MNIST's format, so a tiny VAE trains on them in seconds.
"""

import csv
import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torchvision.datasets import FashionMNIST

from tests.conftest import run_cli, write_mnist_like
from tests.inference.runs import checkpoint_net

TINY = ["data=fashion_mnist_binarized", "data.val_size=100", "data.batch_size=50", "model.hidden_sizes=[64]",
        "task.iw_samples=8", "callbacks.images.projector_samples=40", "trainer.log_every_n_steps=2"]  # fmt: skip


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mnist_like(tmp_path_factory.mktemp("items"), n_train=500, n_test=100)


def _test_images(data_dir: Path) -> np.ndarray:
    """The IDX file's test images, uint8 (N, 28, 28)."""
    raw = gzip.decompress((data_dir / "t10k-images-idx3-ubyte.gz").read_bytes())
    return np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 28, 28).copy()


def _train(data_dir: Path, run: Path, *overrides: str) -> Path:
    run_cli("train", *TINY, f"paths.data_dir={data_dir}", f"hydra.run.dir={run}", *overrides)
    return run


@pytest.fixture(scope="module")
def trained_run(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("run")
    return _train(data_dir, run, "trainer.max_epochs=3", "task.kl_warmup_epochs=1", "optimizer.lr=0.01")


def _events(run: Path) -> EventAccumulator:
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    return events


def test_training_lowers_the_negative_elbo_and_tests_with_the_iw_bound(trained_run: Path) -> None:
    events = _events(trained_run)
    nelbo = [event.value for event in events.Scalars("val/nelbo")]
    assert len(nelbo) == 3 and nelbo[0] > nelbo[1] > nelbo[2]
    assert {"train/loss_reconstruction", "train/loss_kl", "val/kl", "val/active_units"} <= set(events.Tags()["scalars"])
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert metrics["test/nelbo"] == pytest.approx(metrics["test/reconstruction"] + metrics["test/kl"], rel=1e-5)
    assert 0 < metrics["test/iw_bound"] <= metrics["test/nelbo"] + 1.0  # 8 samples: a tighter bound, up to noise
    assert 0 <= metrics["test/active_units"] <= 40


def test_pictures_and_projector_are_in_the_event_directory(trained_run: Path) -> None:
    events = _events(trained_run)
    for tag in ("val/reconstructions", "val/samples", "val/interpolations"):
        assert len(events.Images(tag)) == 3, tag  # one per validation epoch
    projector = trained_run / "tensorboard"
    assert "latent_means" in (projector / "projector_config.pbtxt").read_text()
    for name in ("metadata.tsv", "sprite.png", "tensors.tsv"):
        found = list(projector.glob(f"*/latent_means/{name}"))
        assert len(found) == 3, name  # one per validation epoch
    metadata = found[0].with_name("metadata.tsv").read_text().splitlines()
    assert len(metadata) == 40 and set(metadata) == set(FashionMNIST.classes)
    assert Image.open(found[0].with_name("sprite.png")).size == (7 * 28, 7 * 28)  # 40 images on a 7 x 7 sprite


def test_a_2d_latent_plots_its_means_and_manifold(data_dir: Path, tmp_path: Path) -> None:
    run = _train(data_dir, tmp_path, "trainer.max_epochs=1", "model.latent_size=2", "test=false")
    events = _events(run)
    assert len(events.Images("val/latent_means")) == 1 and len(events.Images("val/manifold")) == 1


@pytest.mark.parametrize("likelihood", ["continuous_bernoulli", "gaussian"])
def test_a_conditional_vae_models_grey_levels(data_dir: Path, tmp_path: Path, likelihood: str) -> None:
    run = _train(data_dir, tmp_path, "trainer.max_epochs=1", "model.conditional=true", "data.binarize=false",
                 f"loss.likelihood={likelihood}", "loss.learn_std=true", "~callbacks.images")  # fmt: skip
    metrics = json.loads((run / "metrics.json").read_text())
    assert np.isfinite([metrics["test/nelbo"], metrics["test/iw_bound"]]).all()


def test_eval_reports_the_iw_bound_and_frechet_distance_and_writes_sample_grids(
    trained_run: Path, data_dir: Path, tmp_path: Path
) -> None:
    classifier = tmp_path / "classifier"  # the feature space: an MLP classifier trained on the same images
    run_cli("train", "data=fashion_mnist", "model=mlp", "model.hidden_sizes=[32]", "data.val_size=100",
            "test=false", "trainer.max_epochs=1", "~callbacks.images", f"paths.data_dir={data_dir}",
            f"hydra.run.dir={classifier}")  # fmt: skip
    run_cli("eval", f"ckpt_path={trained_run / 'checkpoints' / 'best.ckpt'}", f"hydra.run.dir={tmp_path}",
            f"callbacks.fid.classifier_ckpt={classifier / 'checkpoints' / 'best.ckpt'}")  # fmt: skip
    trained = json.loads((trained_run / "metrics.json").read_text())
    rescored = json.loads((tmp_path / "metrics.json").read_text())
    assert rescored["test/nelbo"] == pytest.approx(trained["test/nelbo"], rel=0.02)  # one z draw per image
    assert "test/iw_bound" in rescored and rescored["test/fid"] > 0 and "test/fid" not in trained
    samples = np.asarray(Image.open(tmp_path / "predictions" / "samples.png"))
    reconstructions = np.asarray(Image.open(tmp_path / "predictions" / "reconstructions.png"))
    assert samples.shape[:2] == (8 * 30 + 2, 8 * 30 + 2) and reconstructions.shape[0] == 4 * 30 + 2


def test_predict_writes_reconstructions_latent_means_and_prior_samples(trained_run: Path, data_dir: Path,
                                                                        tmp_path: Path) -> None:  # fmt: skip
    """Three test images as PNG (one at another size) -> their posterior means equal the checkpoint's encoder on
    the same pixels, a reconstruction each at the training size; sample=N draws a grid; the ONNX export gives
    the same."""
    ckpt = trained_run / "checkpoints" / "best.ckpt"
    raw = _test_images(data_dir)[:3]
    for index, image in enumerate(raw):
        Image.fromarray(image).save(tmp_path / f"item{index}.png")
    run_cli("predict", f"ckpt_path={ckpt}", f"input={tmp_path / 'item*.png'}", "sample=16", f"output={tmp_path / 'p'}")
    with open(tmp_path / "p" / "latent_means.csv", newline="") as file:
        header, *rows = list(csv.reader(file))
    assert header[0] == "path" and [Path(row[0]).name for row in rows] == ["item0.png", "item1.png", "item2.png"]
    net = checkpoint_net(ckpt, *TINY, f"paths.data_dir={data_dir}")
    with torch.no_grad():
        expected = net.encode(torch.from_numpy(raw[:, None]).float() / 255)[0]
    assert len(header) == 1 + expected.shape[1]
    np.testing.assert_allclose([[float(v) for v in row[1:]] for row in rows], expected.numpy(), atol=1e-5)
    for index in range(3):
        assert Image.open(tmp_path / "p" / "reconstructions" / f"item{index}.png").size == (28, 28)
    assert np.asarray(Image.open(tmp_path / "p" / "samples.png")).shape[:2] == (2 * 30 + 2, 8 * 30 + 2)
    # Exported: the same means and reconstructions from ONNX Runtime, and predict through it writes the same table.
    run_cli("export", f"ckpt_path={ckpt}", f"output={tmp_path / 'e'}")
    card = json.loads((tmp_path / "e" / "model.json").read_text())
    assert card["task"] == "generative" and card["parity"]["agreement"] == 1.0
    run_cli("predict", f"ckpt_path={ckpt}", f"input={tmp_path / 'item*.png'}", "backend=onnx",
            f"onnx_path={tmp_path / 'e' / 'model.onnx'}", f"output={tmp_path / 'o'}")  # fmt: skip
    with open(tmp_path / "o" / "latent_means.csv", newline="") as file:
        by_onnx = list(csv.reader(file))[1:]
    np.testing.assert_allclose([[float(v) for v in row[1:]] for row in by_onnx], expected.numpy(), atol=1e-5)
    for index in range(3):
        assert (tmp_path / "o" / "reconstructions" / f"item{index}.png").is_file()


@pytest.mark.parametrize(("count", "message"), [("-3", "sample must be >= 0"), ("two", "sample must be an integer")])
def test_a_bad_sample_count_fails_with_one_line(trained_run: Path, tmp_path: Path, count: str, message: str) -> None:
    ckpt = trained_run / "checkpoints" / "best.ckpt"
    result = run_cli("predict", f"ckpt_path={ckpt}", f"sample={count}", f"output={tmp_path}", check=False)
    assert result.returncode != 0 and message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["loss=cce"], "loss=cce cannot train the generative task of data=fashion_mnist_binarized"),
        (["model=cnn"], "model=cnn is not a VAE"),
        (["data.binarize=false"], "loss.likelihood=bernoulli models binary pixels"),
        (["loss.likelihood=poisson"], "likelihood must be one of"),
    ],
)
def test_combinations_the_task_cannot_train_fail_with_one_line(overrides: list[str], message: str) -> None:
    result = run_cli("train", "data=fashion_mnist_binarized", *overrides, "paths.data_dir=/nonexistent", check=False)
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr


def test_the_generative_task_on_classification_data_is_refused() -> None:
    result = run_cli("train", "data=fashion_mnist", "task=generative", "paths.data_dir=/nonexistent", check=False)
    assert result.returncode != 0 and "drop the task override: the data config chooses its task" in result.stderr
    result = run_cli("train", "data=fashion_mnist", "model=vae_mlp", "paths.data_dir=/nonexistent", check=False)
    assert result.returncode != 0 and "model=vae_mlp outputs a VAEOutput, not logits" in result.stderr
