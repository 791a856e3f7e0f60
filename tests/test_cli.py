"""The real command line, in fresh processes: train, multirun, eval, and the errors users meet."""

import json
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.conftest import run_cli, write_cifar10, write_mnist_like


def test_fast_dev_run_every_model_on_every_idx_dataset(tmp_path: Path) -> None:
    data_dir = write_mnist_like(tmp_path / "data")
    run_cli("train", "-m", "model=mlp,cnn", "data=digits,mnist,fashion_mnist", "debug=fdr", "data.val_size=50",
            f"paths.data_dir={data_dir}", f"hydra.sweep.dir={tmp_path / 'sweep'}")  # fmt: skip
    runs = sorted((tmp_path / "sweep").glob("*/metrics.json"))
    assert len(runs) == 6
    for metrics in runs:
        assert {"test/acc", "test/f1", "test/loss"} <= set(json.loads(metrics.read_text()))


def test_fast_dev_run_every_model_on_cifar10(tmp_path: Path) -> None:
    data_dir = write_cifar10(tmp_path / "data")
    run_cli("train", "-m", "model=mlp,cnn", "data=cifar10", "data.verify_checksums=false", "debug=fdr",
            "data.val_size=50", f"paths.data_dir={data_dir}", f"hydra.sweep.dir={tmp_path / 'sweep'}")  # fmt: skip
    assert len(list((tmp_path / "sweep").glob("*/metrics.json"))) == 2


def test_every_experiment_runs(tmp_path: Path) -> None:
    experiments = sorted(p.stem for p in (Path(__file__).parents[1] / "conf" / "experiment").glob("*.yaml"))
    run_cli("train", "-m", f"experiment={','.join(experiments)}", "debug=fdr", f"hydra.sweep.dir={tmp_path}")
    assert len(list(tmp_path.glob("*/metrics.json"))) == len(experiments)


# Tests of one trained run share a worker under pytest-xdist, so the run happens once.
TRAINED_RUN = pytest.mark.xdist_group("trained_run")


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real, short CNN training on the digits: checkpoints, TensorBoard events, metrics.json."""
    run_dir = tmp_path_factory.mktemp("run")
    run_cli("train", "data=digits", "model=cnn", "trainer.max_epochs=4", "trainer.log_every_n_steps=5",
            f"hydra.run.dir={run_dir}")  # fmt: skip
    return run_dir


@TRAINED_RUN
def test_training_writes_config_checkpoints_and_metrics(trained_run: Path) -> None:
    assert (trained_run / ".hydra" / "config.yaml").is_file()
    assert (trained_run / "checkpoints" / "best.ckpt").is_file()
    assert (trained_run / "checkpoints" / "last.ckpt").is_file()
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert metrics["test/acc"] > 0.5  # 4 epochs on 8x8 digits: far above the 0.1 of guessing


@TRAINED_RUN
def test_tensorboard_events_hold_scalars_hparams_and_pictures(trained_run: Path) -> None:
    events = EventAccumulator(str(trained_run / "tensorboard"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    scalars, images = set(events.Tags()["scalars"]), set(events.Tags()["images"])
    expected = {"train/loss", "train/acc", "val/loss", "val/acc", "val/f1", "val/acc_best",
                "hp_metric", "test/acc", "test/f1", "lr-AdamW"}  # fmt: skip
    assert expected <= scalars, expected - scalars
    assert {
        "val/predictions",
        "val/conv1_kernels",
        "val/conv1_feature_maps",
        "test/confusion_matrix",
    } <= images
    assert len(events.Images("val/predictions")) == 4  # one grid per validation epoch
    assert len(events.Scalars("val/acc")) == 4
    assert "hparams" in events.PluginTagToContent("hparams") or events.PluginTagToContent("hparams")


@TRAINED_RUN
def test_eval_rescores_the_checkpoint_with_the_same_accuracy(trained_run: Path, tmp_path: Path) -> None:
    result = run_cli("eval", f"ckpt_path={trained_run / 'checkpoints' / 'best.ckpt'}", "data=digits", "model=cnn",
                     f"hydra.run.dir={tmp_path}")  # fmt: skip
    trained = json.loads((trained_run / "metrics.json").read_text())
    rescored = json.loads((tmp_path / "metrics.json").read_text())
    assert rescored["test/acc"] == pytest.approx(trained["test/acc"], abs=1e-6)
    assert "test/acc" in result.stdout


@TRAINED_RUN
def test_eval_of_a_checkpoint_from_another_model_names_the_tensor_and_the_overrides(
    trained_run: Path, tmp_path: Path
) -> None:
    result = run_cli("eval", f"ckpt_path={trained_run / 'checkpoints' / 'best.ckpt'}", "data=digits", "model=mlp",
                     f"hydra.run.dir={tmp_path}", check=False)  # fmt: skip
    assert result.returncode == 1
    assert "does not fit this model" in result.stderr
    assert "the run was trained with: data=digits model=cnn" in result.stderr


ERRORS = {
    "unknown option": (["model=transformer"], "Could not find 'model/transformer'"),
    "unknown key": (["model.kernel=5"], "Could not override 'model.kernel'"),
    "missing data": (
        ["data=mnist", "data.data_dir=/nonexistent"],
        "MNIST files not found (looked in: /nonexistent",
    ),
    "wrong channels": (
        ["data=digits", "model.in_channels=3"],
        "the model cannot take the data's images (1, 8, 8)",
    ),
    "bad batch size": (
        ["data=digits", "data.batch_size=0"],
        "data.batch_size must be a positive integer, got 0",
    ),
}


@pytest.mark.parametrize("case", ERRORS)
def test_bad_input_is_one_clear_line_without_traceback(case: str, tmp_path: Path) -> None:
    overrides, message = ERRORS[case]
    result = run_cli("train", *overrides, "debug=fdr", f"hydra.run.dir={tmp_path}", check=False)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("ckpt", "message"),
    [(None, "ckpt_path is required"), ("/nonexistent.ckpt", "ckpt_path=/nonexistent.ckpt does not exist")],
)
def test_eval_without_a_valid_checkpoint_fails_clearly(ckpt: str | None, message: str, tmp_path: Path) -> None:
    overrides = [f"ckpt_path={ckpt}"] if ckpt else []
    result = run_cli("eval", *overrides, f"hydra.run.dir={tmp_path}", check=False)
    assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr


def test_corrupt_checkpoint_fails_clearly(tmp_path: Path) -> None:
    ckpt = tmp_path / "broken.ckpt"
    ckpt.write_bytes(b"not a checkpoint")
    result = run_cli("eval", f"ckpt_path={ckpt}", f"hydra.run.dir={tmp_path / 'run'}", check=False)
    assert result.returncode == 1 and "is not a readable Lightning checkpoint" in result.stderr
