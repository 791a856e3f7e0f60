"""How long a task's learning-rate schedule runs: the run's length in the scheduler's interval, one cycle of it.

A resumed run whose end moved (`resume=<run> trainer.max_epochs=<more>`) starts a new cycle of the same schedule
at the checkpoint, over what is left to the new end: a warm restart, as SGDR does. A finished run extended to
twice its epochs thus runs the same schedule again over the added epochs (one-cycle warms up again from its low
start, cosine starts again at the full rate) and ends annealed, as the first cycle did. A resume that keeps the
end keeps the restored schedule step for step.
"""

import inspect
from collections.abc import Callable
from typing import Any

from lightning.pytorch import Trainer
from torch.optim import Optimizer

# How torch's schedulers name the length of the run they shape (OneCycleLR, CosineAnnealingLR).
RUN_LENGTH_ARGS = ("total_steps", "T_max")
# Where the schedule's current cycle started (in its interval), kept in checkpoints beside the scheduler's state.
CYCLE_START_KEY = "lr_cycle_start"
# What a scheduler writes into the optimiser's parameter groups when it is built (OneCycleLR: all four).
SCHEDULE_GROUP_KEYS = ("lr", "initial_lr", "max_lr", "min_lr")


def length_args(factory: Callable) -> list[str]:
    """The length arguments (`total_steps`, `T_max`) the scheduler config leaves null: the run fills them."""
    parameters = inspect.signature(factory).parameters
    return [name for name in RUN_LENGTH_ARGS if name in parameters and parameters[name].default is None]


def run_end(trainer: Trainer, interval: str, factory: Callable) -> int:
    """The run's length in scheduler steps: optimiser steps (interval "step") or epochs.

    A run without end (trainer.max_epochs=-1) has one only through trainer.max_steps, and only in steps.
    """
    length = trainer.estimated_stepping_batches if interval == "step" else trainer.max_epochs
    if length in (-1, float("inf")) or (interval != "step" and trainer.max_epochs == -1):
        name = getattr(factory, "func", factory).__name__
        bound = "set trainer.max_steps=N" if interval == "step" else "set trainer.max_epochs=N"
        raise ValueError(
            f"trainer.max_epochs=-1 trains without end, so {name} has no length to span; {bound}, or use "
            "scheduler=none (a constant rate, which trainer.max_time or trainer.max_steps can then stop)"
        )
    return int(length)


def warm_up_of_two_steps(factory: Callable, total_steps: int) -> dict[str, float]:
    """OneCycleLR's `pct_start` so that a short run warms up over at least two steps (its low start, then its peak).

    Torch divides by zero when the warm-up is exactly one step (total_steps * pct_start == 1), and a shorter one
    starts at the peak; runs of 10 steps or more (at the default 0.2) keep their `pct_start`. A run of two steps
    keeps it too: a two-step warm-up would leave its annealing phase no step, and torch divides by that at its
    last step.
    """
    parameters = inspect.signature(factory).parameters
    if "pct_start" not in parameters or total_steps < 3:
        return {}
    pct_start = getattr(factory, "keywords", {}).get("pct_start", parameters["pct_start"].default)
    return {"pct_start": 2 / total_steps} if pct_start * total_steps < 2 else {}


def scaled_peaks(factory: Callable, optimizer: Optimizer) -> dict[str, list[float]]:
    """OneCycleLR's one `max_lr` would set every group's peak alike: give each group its scaled share."""
    peak = getattr(factory, "keywords", {}).get("max_lr")
    if not isinstance(peak, int | float) or len(optimizer.param_groups) == 1:
        return {}
    return {"max_lr": [peak * group.get("lr_scale", 1.0) for group in optimizer.param_groups]}


def cycle_start_on_resume(checkpoint: dict[str, Any], end: int) -> tuple[int, bool]:
    """(where the schedule's cycle starts, whether that is a new cycle) for a run resumed from `checkpoint`
    that now ends at `end`, in the scheduler's interval.

    The checkpoint's cycle goes on if it ends where the run now ends. Otherwise a new cycle starts where the
    checkpoint's scheduler stopped, and the checkpoint's scheduler state is dropped, so that Lightning, which
    restores it after `configure_optimizers`, leaves the new cycle's scheduler as it was built.
    """
    start = checkpoint.get(CYCLE_START_KEY, 0)
    states = checkpoint.get("lr_schedulers") or []
    lengths = [states[0][name] for name in RUN_LENGTH_ARGS if len(states) == 1 and name in states[0]]
    if not lengths or start + lengths[0] == end:
        return start, False
    checkpoint["lr_schedulers"] = []
    return start + states[0]["last_epoch"], True


def group_settings(optimizer: Optimizer) -> list[dict[str, float]]:
    """What the scheduler set in each parameter group when it was built: the cycle's starting rate, its peak."""
    return [{key: group[key] for key in SCHEDULE_GROUP_KEYS if key in group} for group in optimizer.param_groups]
