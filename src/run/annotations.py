"""What a parameter's type hint accepts from a config file: YAML values against `int | Sequence[int]` and kin.

A config value is null, true/false, an integer, a number, a string, a list or a mapping. `accepts` says whether
a hint admits such a value, `describe` says in words what it admits. A hint that names anything else (a
Tensor, an Accelerator, a Callable) might be met by what the constructor makes of the value, so it admits
everything: the constructor decides.
"""

import collections.abc as abc
import os
import types
import typing
from pathlib import PurePath
from typing import Any, Literal, Union

SEQUENCES = (list, tuple, set, frozenset, abc.Sequence, abc.Collection, abc.Iterable, abc.MutableSequence)
MAPPINGS = (dict, abc.Mapping, abc.MutableMapping)
WORDS = {int: ("an integer", "integers"), float: ("a number", "numbers"), str: ("a string", "strings")}


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (Union, types.UnionType)


def _primitive(hint: Any, value: Any) -> bool | None:
    """Whether `value` is of the plain type `hint`; None when `hint` is no plain type."""
    if hint is type(None) or hint is None:
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:  # YAML's 1 is an int, and Python takes it for a float
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str or (isinstance(hint, type) and issubclass(hint, PurePath)) or hint is os.PathLike:
        return isinstance(value, str)
    return None


def accepts(hint: Any, value: Any) -> bool:
    """Whether a parameter annotated `hint` may take the config value `value` (lists and dicts as containers)."""
    if hint is Any or isinstance(hint, typing.TypeVar):
        return True
    if (plain := _primitive(hint, value)) is not None:
        return plain
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return any(value == arg and type(value) is type(arg) for arg in args)
    if _is_union(hint):
        return any(accepts(arg, value) for arg in args)
    if origin in SEQUENCES or hint in SEQUENCES:
        if not isinstance(value, list):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(accepts(a, v) for a, v in zip(args, value, strict=True))
        item = args[0] if args else Any
        return all(accepts(item, v) for v in value)
    if origin in MAPPINGS or hint in MAPPINGS:
        item = args[1] if len(args) == 2 else Any
        return isinstance(value, dict) and all(accepts(item, v) for v in value.values())
    return True  # a class a config value cannot be: the constructor makes it of the value, or refuses


def describe(hint: Any, plural: bool = False) -> str:
    """`int | Sequence[int]` -> "an integer or a list of integers"; `Literal["max", "avg"]` -> "'max' or 'avg'"."""
    return _either(_words(hint, plural))


def _words(hint: Any, plural: bool) -> list[str]:
    """The alternatives `hint` admits, in words: Literal values first, null last."""
    if hint is bool:
        return ["true", "false"]
    if hint is None or hint is type(None):
        return ["null"]
    if hint in WORDS:
        return [WORDS[hint][plural]]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return ["null" if a is None else str(a).lower() if isinstance(a, bool) else repr(a) for a in args]
    if _is_union(hint):
        members = sorted(args, key=lambda a: (typing.get_origin(a) is not Literal, a is type(None)))
        return [word for member in members for word in _words(member, plural)]
    if origin in SEQUENCES or hint in SEQUENCES:
        items = _words(args[0], True) if args else []
        listed = f" of ({_either(items)})" if len(items) > 1 else f" of {items[0]}" if items else ""
        return [("lists" if plural else "a list") + listed]
    if origin in MAPPINGS or hint in MAPPINGS:
        return ["mappings" if plural else "a mapping"]
    return [getattr(hint, "__name__", str(hint))]


def _either(words: list[str]) -> str:
    words = list(dict.fromkeys(words))
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"
