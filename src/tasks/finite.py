"""A watch on the training loss that costs no host sync per step: the first non-finite step stays on the device
until it is read, at the logging cadence and before every checkpoint save (reading it stalls an accelerator)."""

import torch
from lightning.pytorch.strategies import Strategy
from torch import Tensor


class FiniteLossWatch:
    """Remembers the first optimiser step whose training loss was not finite, as a tensor on the loss's device."""

    def __init__(self) -> None:
        self.first_step: Tensor | None = None  # -1: none yet

    def update(self, loss: Tensor, step: int) -> None:
        """loss: the step's scalar loss; step: the optimiser step it belongs to. No host sync."""
        if self.first_step is None or self.first_step.device != loss.device:
            self.first_step = torch.tensor(-1, device=loss.device)
        bad = ~torch.isfinite(loss.detach()) & (self.first_step < 0)
        self.first_step = torch.where(bad, step, self.first_step)

    def check(self, strategy: Strategy) -> None:
        """FloatingPointError if any rank's loss was not finite (a collective under DDP: every rank calls it)."""
        first = -1 if self.first_step is None else int(self.first_step)
        if not strategy.reduce_boolean_decision(first >= 0, all=False):
            return
        where = f"since step {first}" if first >= 0 else "on another process"
        raise FloatingPointError(
            f"the training loss is not finite {where} (no checkpoint was saved after it); lower optimizer.lr, "
            "or try trainer.gradient_clip_val=1.0 or trainer.precision=32-true"
        )
