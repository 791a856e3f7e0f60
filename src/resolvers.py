"""The OmegaConf resolvers the configs use: class counts of a subset, and short names for runs and sweep jobs.

Registered on `import src` (see src/__init__.py), before any config is composed or resolved.
"""

import hashlib
import sys
from collections.abc import Sequence

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

# Overrides that say where things are, not what was trained: never part of a run's name.
UNNAMED = ("hydra", "paths", "data.data_dir", "callbacks.progress_bar", "+callbacks.progress_bar", "resume")
# Longer names are cut and end in a hash of the whole, so they stay unique and far below the 255-byte limit.
LONGEST = 80


def class_count(classes: Sequence | None, default: int | None = None) -> int | None:
    """`${class_count:${.classes},10}`: how many classes a chosen subset keeps, or `default` when it is null."""
    return default if classes is None else len(classes)


def _short(overrides: list[str]) -> str:
    """["optimizer.lr=0.01", "loss=dice"] -> "lr=0.01,loss=dice": each key's last part, file-name safe."""
    parts = []
    for override in overrides:
        key, _, value = override.partition("=")
        parts.append(f"{key.lstrip('+~').rsplit('.', 1)[-1]}={value}")
    name = ",".join(parts).replace("/", "-").replace(" ", "")
    if len(name) > LONGEST:
        name = f"{name[: LONGEST - 9]}~{hashlib.sha1(name.encode()).hexdigest()[:8]}"
    return name


def named_overrides(overrides: Sequence[str]) -> list[str]:
    """The overrides that say what was trained (not where data and outputs are)."""
    return [o for o in overrides if not o.lstrip("+~").startswith(UNNAMED)]


def run_label() -> str:
    """`${run_label:}`: model_data, then the command line's other overrides, e.g. cnn_fashion_mnist_loss=dice."""
    hydra = HydraConfig.get()
    choices = f"{hydra.runtime.choices.model}_{hydra.runtime.choices.data}"
    rest = [o for o in named_overrides(hydra.overrides.task) if o.split("=", 1)[0] not in ("model", "data")]
    return f"{choices}_{_short(rest)}" if rest else choices


def job_label() -> str:
    """`${job_label:}`: what this sweep job's overrides change from the sweep's common ones, e.g. lr=0.01,loss=dice.

    Common: the command line's overrides that are not sweeps (no a,b lists, range(), choice(), ...); a sweeper
    that draws values itself (optuna) adds keys the command line never had, which count as differing too.
    """
    given = OverridesParser.create().parse_overrides([a for a in sys.argv[1:] if "=" in a and not a.startswith("-")])
    common = {o.key_or_group for o in given if not o.is_sweep_override()}
    differing = [
        o for o in named_overrides(HydraConfig.get().overrides.task) if o.split("=", 1)[0].lstrip("+~") not in common
    ]
    return _short(differing) or "defaults"


for name, resolver in (("class_count", class_count), ("run_label", run_label), ("job_label", job_label)):
    OmegaConf.register_new_resolver(name, resolver, replace=True)  # replace: importlib.reload is harmless
