"""The one generic step from the composed config to a frozen settings object.

Defaults are written once: in the typed schema (`schema.py`), or, for the keys only one algorithm reads
(GAIL's `algo.reward_form`, BC's `algo.epochs`, ...), in the config group that selects it (conf/algo/).
A settings class declares fields and types, never defaults; `settings_from` takes each field by its own
name from the first node that has it, so a key that is renamed or absent fails here instead of falling
back on a second default.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from omegaconf import DictConfig, ListConfig, OmegaConf

from gailrun.errors import GailrunError

T = TypeVar("T")


def _lookup(node: Any, key: str) -> tuple[bool, Any]:
    # `key in node` is False for a ??? value: keys() has it.
    if isinstance(node, DictConfig) and key in node.keys() and OmegaConf.is_missing(node, key):  # noqa: SIM118
        raise GailrunError(f"{key} is required (??? in the config); set it, e.g. {key}=VALUE")
    if isinstance(node, Mapping) and node.get(key) == "???":
        raise GailrunError(f"{key} is required (??? in the config); set it, e.g. {key}=VALUE")
    if isinstance(node, (Mapping, DictConfig)):
        return (True, node[key]) if key in node else (False, None)
    return (True, getattr(node, key)) if hasattr(node, key) else (False, None)  # a schema dataclass


def _typed(value: Any, hint: Any, where: str) -> Any:
    """The value as the field's type says: config lists become tuples, ints widen to floats."""
    if isinstance(value, (DictConfig, ListConfig)):
        value = OmegaConf.to_container(value, resolve=True)
    args = typing.get_args(hint)
    optional = typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args
    if value is None:
        if optional:
            return None
        raise GailrunError(f"{where} is null; this algorithm needs a value (see conf/algo/)")
    base = next(a for a in args if a is not type(None)) if optional else hint
    if typing.get_origin(base) is tuple:
        return tuple(value)
    if base is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def settings_from(cls: type[T], *nodes: Any) -> T:
    """`cls` (a dataclass) with every field read by name from the first of `nodes` (config nodes,
    dicts or schema dataclasses) that has it; earlier nodes win where two have the key."""
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        for node in nodes:
            found, value = _lookup(node, f.name)
            if found:
                values[f.name] = _typed(value, hints[f.name], f"{cls.__name__}.{f.name}")
                break
        else:
            raise GailrunError(f"{cls.__name__}.{f.name}: no config key of that name in the nodes given")
    return cls(**values)
