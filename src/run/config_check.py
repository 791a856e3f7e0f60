"""Refuse a mistyped or out-of-range value before torch loads, naming the key, the value and what is allowed.

A value set on the command line must have the type of the value it replaces in the config files (6: an
integer, 3e-3: a number, true: true or false, [32, 64]: a list); the keys in RANGES must also be in range.
Hydra itself names unknown groups, options and keys. A model's or loss's own knobs are checked by the class
they configure, which still happens before any data loads.
"""

import fnmatch
from collections.abc import Callable

from hydra import compose
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, ListConfig, OmegaConf

from src.run.directories import CONF

# key pattern -> (what is allowed, test). Keys not listed are checked for their type only.
RANGES: dict[str, tuple[str, Callable[[object], bool]]] = {
    "optimizer.lr": ("> 0", lambda v: v > 0),
    "optimizer.weight_decay": (">= 0", lambda v: v >= 0),
    "optimizer.momentum": ("in [0, 1)", lambda v: 0 <= v < 1),
    "seed": ("in [0, 2**32)", lambda v: 0 <= v < 2**32),
    "trainer.max_epochs": (">= 1, or -1 for no limit", lambda v: v >= 1 or v == -1),
    "trainer.max_steps": (">= 1, or -1 for no limit", lambda v: v >= 1 or v == -1),
    "trainer.log_every_n_steps": (">= 1", lambda v: v >= 1),
    "trainer.gradient_clip_val": (">= 0", lambda v: v >= 0),
    "trainer.devices": ("'auto', a list of device ids, or a count >= 1", lambda v: v in ("auto", -1) or v >= 1),
    "*batch_size": (">= 1", lambda v: v >= 1),
    "*dropout": ("in [0, 1)", lambda v: 0 <= v < 1),
    "*num_workers": (">= 0", lambda v: v >= 0),
    "*val_size": (">= 1", lambda v: v >= 1),
    "*test_size": (">= 1", lambda v: v >= 1),
    "*label_smoothing": ("in [0, 1]", lambda v: 0 <= v <= 1),
}
# Keys whose values legitimately take several types (Lightning accepts 1, "auto" or [0, 1] for devices).
ANY_TYPE = ("trainer.devices", "trainer.precision", "trainer.limit_*", "trainer.val_check_interval", "*.weights")
TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string", list: "a list"}


def check_config(cfg: DictConfig) -> None:
    """Check every key=value the user gave against the default it replaces and RANGES; raise ValueError."""
    overrides = [o for o in HydraConfig.get().overrides.task if "=" in o and not o.startswith(("hydra.", "~"))]
    groups = {path.name for path in CONF.iterdir() if path.is_dir()}
    choices = [o for o in overrides if _key(o) in groups]
    defaults = compose(HydraConfig.get().job.config_name, overrides=choices)  # the same choices, no values
    for override in overrides:
        key = _key(override)
        if key in groups:
            continue
        value = OmegaConf.select(cfg, key)
        default = OmegaConf.select(defaults, key, default=None)
        if isinstance(value, DictConfig | ListConfig):
            value = OmegaConf.to_container(value, resolve=True)
        _check_type(key, value, default)
        _check_range(key, value)


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+")


def _kind(value: object) -> type | None:
    for kind in TYPE_NAMES:  # bool first: True is also an int
        if isinstance(value, kind) or (kind is list and isinstance(value, ListConfig)):
            return kind
    return None


def _check_type(key: str, value: object, default: object) -> None:
    expected, got = _kind(default), _kind(value)
    if expected is None or value is None or any(fnmatch.fnmatch(key, pattern) for pattern in ANY_TYPE):
        return  # no default (a new key, or null: any type), or a key that takes several types
    if expected is got or (expected is float and got is int):
        return
    raise ValueError(f"{key} must be {TYPE_NAMES[expected]} (its default is {default!r}), got {value!r}")


def _check_range(key: str, value: object) -> None:
    for pattern, (allowed, test) in RANGES.items():
        if not fnmatch.fnmatch(key, pattern) or value is None or isinstance(value, bool):
            continue
        try:
            fits = test(value)
        except TypeError:  # e.g. a string where a number belongs
            fits = False
        if not fits:
            raise ValueError(f"{key} must be {allowed}, got {value!r}")
