"""The OmegaConf resolvers the configs use: class counts of a subset, and short names for runs and sweep jobs.

Registered on `import src` (see src/__init__.py), before any config is composed or resolved.
"""

import hashlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf

# Overrides that say where things are, not what was trained: never part of a run's name.
UNNAMED = (
    "hydra",
    "paths",
    "data.data_dir",
    "data.default_dir",
    "data.cache_dir",
    "callbacks.progress_bar",
    "+callbacks.progress_bar",
    "resume",
)
# Longer names are cut and end in a hash of the whole, so they stay unique and far below the 255-byte limit.
LONGEST = 80


def class_count(classes: Sequence | None, default: int | None = None) -> int | None:
    """`${class_count:${.classes},10}`: how many classes a chosen subset keeps, or `default` when it is null."""
    return default if classes is None else len(classes)


def survey(key: str, *, _parent_: DictConfig) -> Any:
    """`${survey:num_classes}` in a data config: what the data's own files say (their classes, channels, size,
    features, task), from the `facts(node)` of the data module the config builds; read once per process.

    A run's saved config holds these values as they were (src/run/directories.py: RUN_TIME), so src.eval,
    src.predict and src.export rebuild the net without the files."""
    return get_class(_parent_._target_).facts(_parent_)[key]


def gpus_per_node(accelerator: str, devices: int) -> int | None:
    """`${gpus_per_node:${trainer.accelerator},${trainer.devices}}`: the GPUs a SLURM job asks for on each node,
    one per device; none (no --gpus-per-node) when the trainer runs on the CPU."""
    return None if accelerator == "cpu" else devices


def _short(overrides: list[str]) -> str:
    """["optimizer.lr=0.01", "loss=dice"] -> "lr=0.01,loss=dice": each key's last part, file-name safe."""
    parts = []
    for override in overrides:
        key, _, value = override.partition("=")
        parts.append(f"{key.lstrip('+~').rsplit('.', 1)[-1]}={_rounded(value)}")
    name = ",".join(parts).replace("/", "-").replace(" ", "")
    if len(name) > LONGEST:
        name = f"{name[: LONGEST - 9]}~{hashlib.sha1(name.encode()).hexdigest()[:8]}"
    return name


def _rounded(value: str) -> str:
    """A sampler's 0.000587194737873281 -> 0.0005872 (4 significant digits); anything else as it is."""
    try:
        number = float(value)
    except ValueError:
        return value
    return f"{number:.4g}" if "." in value and len(value) > 8 else value


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

    Common: the sweep command's overrides that are not sweeps (no a,b lists, range(), choice(), ...), read from
    the sweep's multirun.yaml (jobs may run in other processes: joblib, submitit), else from this command line;
    a sweeper that draws values itself (optuna) adds keys the command never had, which count as differing.
    """
    hydra = HydraConfig.get()
    recorded = Path(hydra.sweep.dir) / "multirun.yaml"
    command = OmegaConf.load(recorded).hydra.overrides.task if recorded.is_file() else sys.argv[1:]
    given = OverridesParser.create().parse_overrides([str(a) for a in command if is_override(str(a))])
    common = {o.key_or_group for o in given if not o.is_sweep_override()}
    job = named_overrides(hydra.overrides.task)
    differing = [o for o in job if o.split("=", 1)[0].lstrip("+~") not in common]
    return _short(differing) or "defaults"


def is_override(argument: str) -> bool:
    """key=value, +key=value, or a deletion ~key (no value); not a flag such as -m."""
    return not argument.startswith("-") and ("=" in argument or argument.startswith("~"))


for name, resolver in (
    ("class_count", class_count),
    ("survey", survey),
    ("gpus_per_node", gpus_per_node),
    ("run_label", run_label),
    ("job_label", job_label),
):
    OmegaConf.register_new_resolver(name, resolver, replace=True)  # replace: importlib.reload is harmless
