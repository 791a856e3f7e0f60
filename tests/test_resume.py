"""Runs that die: SIGKILL mid-epoch, then resume=<run dir>; deterministic repeats; refused resumes.

In a file of its own: `make test` hands whole files to pytest-xdist workers, and these runs are the slowest.
"""

import json
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer

from tests.conftest import run_cli

RUN = ["data=digits", "model=cnn", "model.channels=[8,16]", "model.hidden_size=32", "trainer.max_epochs=3",
       "trainer.deterministic=true", "trainer.log_every_n_steps=5",
       "callbacks.progress_bar.refresh_rate=0"]  # fmt: skip
KILL = ["+callbacks.kill._target_=tests.crash.KillAtBatch", "+callbacks.kill.epoch=2", "+callbacks.kill.batch=7"]


def metrics(run: Path) -> dict[str, float]:
    return json.loads((run / "metrics.json").read_text())


def val_acc_steps(run: Path) -> list[int]:
    events = EventMultiplexer().AddRunsFromDirectory(str(run / "tensorboard"))
    events.Reload()
    return sorted({event.step for name in events.Runs() for event in events.Scalars(name, "val/acc")})


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("uninterrupted")
    run_cli("train", *RUN, f"hydra.run.dir={run}")
    return run


def test_the_same_seed_in_deterministic_mode_gives_identical_metrics(uninterrupted: Path, tmp_path: Path) -> None:
    run_cli("train", *RUN, f"hydra.run.dir={tmp_path}")
    assert metrics(tmp_path) == metrics(uninterrupted)


def test_a_run_killed_mid_epoch_resumes_to_the_metrics_of_a_run_never_stopped(
    uninterrupted: Path, tmp_path: Path
) -> None:
    killed = run_cli("train", *RUN, *KILL, f"hydra.run.dir={tmp_path}", check=False)
    assert killed.returncode == -9  # SIGKILL: no handler ran
    assert not (tmp_path / "metrics.json").exists()
    assert json.loads((tmp_path / "status.json").read_text())["status"] == "running"  # its process is gone
    run_cli("train", f"resume={tmp_path}", "~callbacks.kill")
    assert metrics(tmp_path) == metrics(uninterrupted)
    assert json.loads((tmp_path / "status.json").read_text())["status"] == "completed"
    # TensorBoard's curves continue where the checkpoint was, in the same run directory.
    assert val_acc_steps(tmp_path) == val_acc_steps(uninterrupted)
    assert (tmp_path / ".hydra" / "config.yaml").read_text().count("KillAtBatch") == 1  # the run's own config kept


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["model=mlp"], "resume keeps the run's own choices, so model=mlp cannot change"),
        (["model.channels=[4,8]"], "does not fit this model: net.backbone.0.0.weight is shaped (8, 1, 3, 3)"),
    ],
    ids=["other_model", "contradicting_checkpoint"],
)
def test_a_resume_that_contradicts_the_run_is_refused(uninterrupted: Path, extra: list[str], message: str) -> None:
    before = metrics(uninterrupted)
    result = run_cli("train", f"resume={uninterrupted}", *extra, check=False)
    assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr
    assert metrics(uninterrupted) == before
