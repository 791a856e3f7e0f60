"""One real, short training run through the CLI, then what it wrote and what src.eval makes of it.

In a file of its own: `make test` hands whole files to pytest-xdist workers, so the run happens once.
"""

import json
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.conftest import run_cli


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real, short CNN training on the digits: checkpoints, TensorBoard events, metrics.json."""
    run_dir = tmp_path_factory.mktemp("run")
    run_cli("train", "data=digits", "model=cnn", "trainer.max_epochs=4", "trainer.log_every_n_steps=5",
            f"hydra.run.dir={run_dir}")  # fmt: skip
    return run_dir


def test_training_writes_config_checkpoints_and_metrics(trained_run: Path) -> None:
    assert (trained_run / ".hydra" / "config.yaml").is_file()
    assert (trained_run / "checkpoints" / "best.ckpt").is_file()
    assert (trained_run / "checkpoints" / "last.ckpt").is_file()
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert metrics["test/acc"] > 0.5  # 4 epochs on 8x8 digits: far above the 0.1 of guessing


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


def test_eval_rescores_the_checkpoint_with_the_same_accuracy(trained_run: Path, tmp_path: Path) -> None:
    result = run_cli("eval", f"ckpt_path={trained_run / 'checkpoints' / 'best.ckpt'}", "data=digits", "model=cnn",
                     f"hydra.run.dir={tmp_path}")  # fmt: skip
    trained = json.loads((trained_run / "metrics.json").read_text())
    rescored = json.loads((tmp_path / "metrics.json").read_text())
    assert rescored["test/acc"] == pytest.approx(trained["test/acc"], abs=1e-6)
    assert "test/acc" in result.stdout


def test_eval_of_a_checkpoint_from_another_model_names_the_tensor_and_the_overrides(
    trained_run: Path, tmp_path: Path
) -> None:
    result = run_cli("eval", f"ckpt_path={trained_run / 'checkpoints' / 'best.ckpt'}", "data=digits", "model=mlp",
                     f"hydra.run.dir={tmp_path}", check=False)  # fmt: skip
    assert result.returncode == 1
    assert "does not fit this model" in result.stderr
    assert "the run was trained with: data=digits model=cnn" in result.stderr
