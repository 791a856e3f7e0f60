"""Each process's own random generator: seeded apart under DDP, saved together, restored rank by rank.

Lightning restores weights, optimiser, schedulers and loops, not the random generators: without them a resumed run
would augment and drop out differently from a run that never stopped (one device's shuffle draws from it too).
`seed_everything(seed)` seeds every DDP process alike, so without `seed_apart` all ranks would draw the same
dropout masks and augmentations for their different samples.
"""

from typing import Any

import torch
from lightning.pytorch import Trainer
from torch import Tensor

# Rank r > 0 of a run seeded s draws from seed s + r * RANK_SEED_STRIDE: no rank shares the stream of another
# run's rank 0 (seeds below 2**32), and rank 0 keeps the stream a one-device run has.
RANK_SEED_STRIDE = 2**32


def seed_apart(trainer: Trainer) -> None:
    """At the start of a fit under DDP, give each rank other than 0 a torch generator of its own."""
    if trainer.world_size > 1 and trainer.global_rank > 0:
        torch.manual_seed(torch.initial_seed() + trainer.global_rank * RANK_SEED_STRIDE)


def _own_state(device: torch.device) -> dict[str, Tensor]:
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def every_rank_state(trainer: Trainer) -> list[dict[str, Tensor]]:
    """Every rank's generator states, rank by rank (a collective: every rank saves a checkpoint at once)."""
    state = _own_state(trainer.strategy.root_device)
    if trainer.world_size == 1:
        return [state]
    # (world, n) per generator: all_gather of the state bytes on the device the process group communicates on.
    gathered = {name: trainer.strategy.all_gather(value.to(trainer.strategy.root_device)).cpu()
                for name, value in state.items()}  # fmt: skip
    return [{name: value[rank].clone() for name, value in gathered.items()} for rank in range(trainer.world_size)]


def restore_own_state(states: list[dict[str, Tensor]] | dict[str, Any], trainer: Trainer) -> None:
    """Rank r continues saved stream r. Resumed on more processes than were saved, the ranks beyond keep the fresh
    stream `seed_apart` gave them; on fewer, the streams of the missing ranks go unused."""
    if isinstance(states, dict):  # written by a version that saved rank 0's state alone
        states = [{"torch": states["torch"]}] if "torch" in states else []
    if trainer.global_rank >= len(states):
        return
    state = states[trainer.global_rank]
    torch.set_rng_state(state["torch"])
    device = trainer.strategy.root_device
    if "cuda" in state and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)
