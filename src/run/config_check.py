"""Refuse a mistyped or out-of-range value before any data loads, naming the key, the value and what is allowed.

What a key accepts is what the class it configures accepts: every parameter of every `_target_` node of the
composed config is checked against the type hints of that class's signature (`model.kernel_sizes` against
ConvNet's `int | Sequence[int]`, `model.encoder.*` against CNNEncoder's, `trainer.*` against Lightning's
Trainer), so the YAML files stay the only schema. A parameter without a hint, or with one that no config value
can meet (a Tensor), is left to the constructor, which also runs before any data loads. The keys in RANGES must
also be in range, and the entry points' own knobs have the types in KNOBS. Hydra itself names unknown groups,
options and keys.
"""

import fnmatch
import functools
import inspect
import re
import typing
from collections.abc import Callable, Iterator
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.utils import get_object
from omegaconf import DictConfig, OmegaConf

from src.run.annotations import accepts, describe


def _devices(value: Any) -> bool:
    if isinstance(value, str):
        return True  # "auto", "0,1", "-1": Lightning parses them, and names what it cannot
    if isinstance(value, list):
        return bool(value) and all(index >= 0 for index in value)
    return value == -1 or value >= 1


HELD_OUT = "an integer >= 1 (samples) or a fraction in (0, 1)"
# key pattern -> (what is allowed, test), for the values the type check let through.
RANGES: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "optimizer.lr": ("> 0", lambda v: v > 0),
    "optimizer.weight_decay": (">= 0", lambda v: v >= 0),
    "optimizer.momentum": ("in [0, 1)", lambda v: 0 <= v < 1),
    "seed": ("in [0, 2**32)", lambda v: 0 <= v < 2**32),
    "sample": (">= 0 (src.predict's draws from a VAE's prior; 0: none)", lambda v: v >= 0),
    "trainer.max_epochs": (">= 1, or -1 for no limit", lambda v: v >= 1 or v == -1),
    "trainer.max_steps": (">= 1, or -1 for no limit", lambda v: v >= 1 or v == -1),
    "trainer.log_every_n_steps": (">= 1", lambda v: v >= 1),
    "trainer.gradient_clip_val": (">= 0", lambda v: v >= 0),
    "trainer.devices": ("-1 (all), a count >= 1, a list of device ids >= 0, or a string such as 'auto'", _devices),
    "*batch_size": (">= 1", lambda v: v >= 1),
    "*dropout": ("in [0, 1)", lambda v: 0 <= v < 1),
    "*num_workers": (">= 0", lambda v: v >= 0),
    "*val_size": (HELD_OUT, lambda v: v >= 1 if isinstance(v, int) else 0 < v < 1),
    "*test_size": (HELD_OUT, lambda v: v >= 1 if isinstance(v, int) else 0 < v < 1),
    "*label_smoothing": ("in [0, 1]", lambda v: 0 <= v <= 1),
}
# What train.py, eval.py and predict.py read themselves, with no class to state their types.
KNOBS: dict[str, Any] = {"seed": int, "test": bool, "sample": int}
INTERPOLATION = re.compile(r"\$\{([\w.]+)\}")  # ${data.num_classes}: a value taken from another key


def check_config(cfg: DictConfig) -> None:
    """Check every parameter of every _target_ node against its class's type hints, then the keys the command
    line set against KNOBS and RANGES; raise TypeError or ValueError naming the key."""
    given = _given_keys()
    nodes = list(_target_nodes(cfg))
    for path, node in nodes:  # first what the command line set, so that the message names the key it typed
        _check_node(path, node, given, only_given=True)
    for key in given:
        value = _plain(OmegaConf.select(cfg, key))
        if key in KNOBS and not accepts(KNOBS[key], value):
            raise TypeError(f"{key} must be {describe(KNOBS[key])}, got {value!r}")
        _check_range(key, value)
    for path, node in nodes:  # then what it set through interpolations (${transfer.freeze_epochs})
        _check_node(path, node, given)


def _given_keys() -> list[str]:
    """The keys of the command line's key=value overrides (not group choices, not hydra.*)."""
    if not HydraConfig.initialized():
        return []
    overrides = [o for o in HydraConfig.get().overrides.task if "=" in o and not o.startswith(("hydra.", "~"))]
    return [o.split("=", 1)[0].lstrip("+") for o in overrides]


def _plain(value: Any) -> Any:
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


def _target_nodes(node: Any, path: str = "") -> Iterator[tuple[str, DictConfig]]:
    """Every node with a _target_ at or below `node`, with its dotted path ("model.encoder", "trainer.plugins.0")."""
    if not OmegaConf.is_config(node):
        return
    if OmegaConf.is_dict(node) and "_target_" in node:
        yield path, node
    names = node.keys() if OmegaConf.is_dict(node) else range(len(node))
    for name in names:
        if not OmegaConf.is_missing(node, name) and not _is_interpolation(node, name):
            yield from _target_nodes(node[name], f"{path}.{name}" if path else str(name))


def _is_interpolation(node: Any, name: str | int) -> bool:
    return OmegaConf.is_interpolation(node, name) if OmegaConf.is_dict(node) else False


def _check_node(path: str, node: DictConfig, given: list[str], only_given: bool = False) -> None:
    hints = _hints(str(node._target_))
    partial = node.get("_partial_", False)
    for name in node:
        key = f"{path}.{name}"
        typed = any(k == key or k.startswith(f"{key}.") for k in given)
        if name.startswith("_") or name not in hints or OmegaConf.is_missing(node, name) or (only_given and not typed):
            continue
        value = _plain(node[name])
        if _has_target(value) or accepts(hints[name], value) or (partial and value is None):
            continue  # a nested _target_ becomes an object, checked node by node; a factory's (_partial_) null
            # is for its caller to fill (the task gives a scheduler's T_max the run's length)
        raw = OmegaConf.to_container(node, resolve=False)[name]
        source = INTERPOLATION.fullmatch(raw) if isinstance(raw, str) else None
        if source and not typed:
            raise TypeError(f"{source[1]} must be {describe(hints[name])} (it sets {key}), got {value!r}")
        raise TypeError(f"{key} must be {describe(hints[name])}, got {value!r}")


def _has_target(value: Any) -> bool:
    if isinstance(value, dict):
        return "_target_" in value or any(_has_target(v) for v in value.values())
    return isinstance(value, list) and any(_has_target(v) for v in value)


@functools.cache
def _hints(target: str) -> dict[str, Any]:
    """{parameter: type hint} of what `target` names (a class: its __init__ and, through **kwargs, its bases');
    parameters without a hint are left out, and so is everything when the target cannot be imported (Hydra's
    instantiate names it then)."""
    try:
        thing = get_object(target)
    except Exception:
        return {}
    functions = (
        [vars(k)["__init__"] for k in thing.__mro__ if "__init__" in vars(k)] if inspect.isclass(thing) else [thing]
    )
    hints: dict[str, Any] = {}
    for function in functions:
        try:
            parameters = inspect.signature(function).parameters
            annotated = typing.get_type_hints(function)
        except (TypeError, ValueError, NameError):  # a builtin without a signature, an unresolvable hint
            return hints
        hints = {name: annotated[name] for name in parameters if name in annotated} | hints
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
            return hints  # the bases see only what this __init__ passes on
    return hints


def _check_range(key: str, value: Any) -> None:
    for pattern, (allowed, test) in RANGES.items():
        if not fnmatch.fnmatch(key, pattern) or value is None or isinstance(value, bool):
            continue
        try:
            fits = test(value)
        except TypeError:  # a string or a list where a number belongs: its type is wrong, not its size
            raise TypeError(f"{key} must be a number {allowed}, got {value!r}") from None
        if not fits:
            raise ValueError(f"{key} must be {allowed}, got {value!r}")
