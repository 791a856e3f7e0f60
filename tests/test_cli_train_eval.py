"""One real, short training run through the CLI; what it wrote, what src.eval makes of it, a second run with
the same seed, and the same run killed mid-epoch and resumed.

In a file of its own: `make test` hands whole files to pytest-xdist workers, so the first run happens once.
"""

import json
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer
from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

from tests.conftest import run_cli

RUN = ["data=digits", "model=cnn", "model.channels=[8,16]", "model.hidden_size=32", "trainer.max_epochs=4",
       "trainer.deterministic=true", "trainer.log_every_n_steps=5"]  # fmt: skip
KILL = ["+callbacks.kill._target_=tests.crash.KillAtBatch", "+callbacks.kill.epoch=2", "+callbacks.kill.batch=7"]


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real, short CNN training on the digits, deterministic: checkpoints, TensorBoard events, metrics.json."""
    run_dir = tmp_path_factory.mktemp("run")
    run_cli("train", *RUN, f"hydra.run.dir={run_dir}")
    return run_dir


def metrics(run: Path) -> dict[str, float]:
    return json.loads((run / "metrics.json").read_text())


def val_acc_steps(run: Path) -> list[int]:
    events = EventMultiplexer().AddRunsFromDirectory(str(run / "tensorboard"))
    events.Reload()
    return sorted({event.step for name in events.Runs() for event in events.Scalars(name, "val/acc")})


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
    hparams = [HParamsPluginData.FromString(raw) for raw in events.PluginTagToContent("hparams").values()]
    start = next(data.session_start_info.hparams for data in hparams if data.HasField("session_start_info"))
    metrics = next(data.experiment.metric_infos for data in hparams if data.HasField("experiment"))
    # The run's choices and main knobs against its results; not the whole flattened config.
    assert start["model"].string_value == "cnn" and start["data"].string_value == "digits"
    assert start["trainer.max_epochs"].number_value == 4 and "callbacks/images/_target_" not in start
    assert {"val/acc_best", "test/acc", "test/f1"} <= {metric.name.tag for metric in metrics}


def test_eval_rescores_the_checkpoint_from_the_run_alone(trained_run: Path, tmp_path: Path) -> None:
    # No model= or data=: the run's saved config says what to rebuild.
    result = run_cli("eval", f"ckpt_path={trained_run / 'checkpoints' / 'best.ckpt'}", f"hydra.run.dir={tmp_path}")
    trained = json.loads((trained_run / "metrics.json").read_text())
    rescored = json.loads((tmp_path / "metrics.json").read_text())
    assert rescored["test/acc"] == pytest.approx(trained["test/acc"], abs=1e-6)
    assert "test/acc" in result.stdout
    assert (tmp_path / "predictions" / "predictions.png").is_file()  # the first test images and their predictions


def test_eval_of_a_checkpoint_from_another_model_names_the_tensor_and_the_overrides(
    trained_run: Path, tmp_path: Path
) -> None:
    result = run_cli("eval", f"ckpt_path={trained_run / 'checkpoints' / 'best.ckpt'}", "data=digits", "model=mlp",
                     f"hydra.run.dir={tmp_path}", check=False)  # fmt: skip
    assert result.returncode == 1
    assert "does not fit this model" in result.stderr
    assert "the run was trained with: data=digits model=cnn" in result.stderr


def test_the_same_seed_in_deterministic_mode_gives_identical_metrics(trained_run: Path, tmp_path: Path) -> None:
    run_cli("train", *RUN, f"hydra.run.dir={tmp_path}")
    assert metrics(tmp_path) == metrics(trained_run)


def test_a_run_killed_mid_epoch_resumes_to_the_metrics_of_a_run_never_stopped(
    trained_run: Path, tmp_path: Path
) -> None:
    killed = run_cli("train", *RUN, *KILL, f"hydra.run.dir={tmp_path}", check=False)
    assert killed.returncode == -9  # SIGKILL: no handler ran
    assert not (tmp_path / "metrics.json").exists()
    assert json.loads((tmp_path / "status.json").read_text())["status"] == "running"  # its process is gone
    run_cli("train", f"resume={tmp_path}", "~callbacks.kill")
    assert metrics(tmp_path) == metrics(trained_run)
    assert json.loads((tmp_path / "status.json").read_text())["status"] == "completed"
    # TensorBoard's curves continue where the checkpoint was, in the same run directory.
    assert val_acc_steps(tmp_path) == val_acc_steps(trained_run)
    assert (tmp_path / ".hydra" / "config.yaml").read_text().count("KillAtBatch") == 1  # the run's own config kept


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["model=mlp"], "resume keeps the run's own choices, so model=mlp cannot change"),
        (["model.channels=[4,8]"], "does not fit this model: net.backbone.0.0.weight is shaped (8, 1, 3, 3)"),
    ],
    ids=["other_model", "contradicting_checkpoint"],
)
def test_a_resume_that_contradicts_the_run_is_refused(trained_run: Path, extra: list[str], message: str) -> None:
    before = metrics(trained_run)
    result = run_cli("train", f"resume={trained_run}", *extra, check=False)
    assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr
    assert metrics(trained_run) == before


def test_a_run_without_validation_or_test_completes(tmp_path: Path) -> None:
    # Nothing monitored, nothing tested: TensorBoard's HParams tab gets no scores, not None (which it refuses).
    run_cli("train", "data=digits", "model=mlp", "trainer.max_epochs=1", "trainer.limit_val_batches=0", "test=false",
            f"hydra.run.dir={tmp_path}")  # fmt: skip
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["status"] == "completed" and status["best"] == {"val/acc": None}
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()


def test_last_ckpt_is_the_last_epoch_even_when_it_is_not_the_best(tmp_path: Path) -> None:
    # A learning rate of 0 after the first epoch (and no batch norm statistics): the later epochs score as the
    # first and cannot improve val/acc, so best.ckpt stays at epoch 0; last.ckpt, what resume= continues from,
    # must follow every epoch (Lightning's own save_last writes it only beside a better best.ckpt).
    run_cli("train", "data=digits", "model=mlp", "~callbacks.images", "scheduler=none", "model.batch_norm=false",
            "trainer.max_epochs=3", "+callbacks.freeze._target_=tests.probes.FreezeAfterFirstEpoch",
            f"hydra.run.dir={tmp_path}")  # fmt: skip
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    best = torch.load(tmp_path / "checkpoints" / "best.ckpt", weights_only=True)
    assert (best["epoch"], last["epoch"]) == (0, 2)
