"""The learning-rate schedule through the real CLI, read back from the rates the run logged: a resume that
doubles the epochs runs a second cycle of the same schedule, short runs still warm up, and a run without end
needs a bound the schedule can span."""

import json
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.conftest import run_cli

RUN = ["data=digits", "model=mlp", "model.hidden_sizes=[16]", "~callbacks.images", "trainer.log_every_n_steps=1"]
LR = 3e-3  # conf/optimizer/adamw.yaml


def logged_rates(run: Path) -> list[float]:
    """The learning rate of each optimiser step, as LearningRateMonitor logged it (resumed runs append)."""
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0})
    events.Reload()
    by_step = {event.step: event.value for event in events.Scalars("lr-AdamW")}
    assert sorted(by_step) == list(range(len(by_step)))  # every step, once
    return [by_step[step] for step in sorted(by_step)]


@pytest.mark.parametrize("scheduler", ["one_cycle", "cosine"])
def test_a_resume_to_twice_the_epochs_runs_the_schedule_again_over_the_added_ones(
    scheduler: str, tmp_path: Path
) -> None:
    run_cli("train", *RUN, f"scheduler={scheduler}", "trainer.max_epochs=2", f"hydra.run.dir={tmp_path}")
    first = logged_rates(tmp_path)  # 2 epochs of 19 steps
    run_cli("train", f"resume={tmp_path}", "trainer.max_epochs=4")
    rates = logged_rates(tmp_path)
    assert len(first) == 38 and len(rates) == 76
    assert rates[38:] == pytest.approx(first, rel=1e-5)  # a warm restart: the same cycle over the added epochs
    assert max(rates[38:]) == pytest.approx(LR, rel=1e-3)  # not stuck at the end of the first cycle (cosine sat at 0)
    assert json.loads((tmp_path / "status.json").read_text())["epochs"] == 4


def test_a_run_of_five_steps_warms_up_over_two_then_anneals(tmp_path: Path) -> None:
    # OneCycleLR's warm-up of 0.2 x 5 = exactly one step divided by zero.
    run_cli("train", *RUN, "trainer.max_epochs=1", "trainer.limit_train_batches=5", f"hydra.run.dir={tmp_path}")
    rates = logged_rates(tmp_path)
    assert len(rates) == 5 and rates[0] == pytest.approx(LR / 25) and rates[1] == pytest.approx(LR)
    assert rates[1] > rates[2] > rates[3] > rates[4]


@pytest.mark.parametrize("steps", [2, 3])
def test_runs_of_two_and_three_steps_train(steps: int, tmp_path: Path) -> None:
    # A two-step warm-up over two steps left the annealing phase none, and torch divided by it at the last step.
    run_cli("train", *RUN, "trainer.max_epochs=1", f"trainer.limit_train_batches={steps}", f"hydra.run.dir={tmp_path}")
    assert len(logged_rates(tmp_path)) == steps


def test_a_run_without_end_is_bounded_by_max_steps(tmp_path: Path) -> None:
    run_cli("train", *RUN, "trainer.max_epochs=-1", "trainer.max_steps=25", f"hydra.run.dir={tmp_path}")
    rates = logged_rates(tmp_path)
    assert len(rates) == 25 and rates[-1] < LR / 100  # one cycle over the 25 steps
    result = run_cli("train", *RUN, "trainer.max_epochs=-1", f"hydra.run.dir={tmp_path / 'endless'}", check=False)
    assert result.returncode == 1 and result.stderr.count("error:") == 1
    assert "error: trainer.max_epochs=-1 trains without end, so OneCycleLR has no length to span; set " in result.stderr
