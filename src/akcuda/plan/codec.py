"""JSON for the plan's types, derived from their declarations: a field is declared once, in its
dataclass, and written and read from there.

- a dataclass is an object of its fields in declaration order, a field left out where it holds
  its default (so reading fills it in);
- a value of a union of dataclasses (a step's form) is an object with one key, the member's
  name in snake case (`SplitFold` -> `split_fold`), holding its fields;
- an enum is its value; a tuple a list; a dict an object (enum keys by value);
- a plan expression (`akcuda.plan.expr`) keeps the list form of its own grammar.

    to_json(Step(Parallel(checked=True), line=12))  ->  {"form": {"parallel": {"checked": true}}, "line": 12}
    from_json(Step, {"form": {"parallel": {"checked": true}}, "line": 12})  ->  the same Step

`from_json` raises ValueError or TypeError (KeyError for a missing field) on data that does not
fit the declaration.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import re
import types
import typing
from typing import Any

from akcuda.plan import expr as E

_EXPRESSIONS = frozenset(typing.get_args(E.Expr))


def tag(cls: type) -> str:
    """A union member's key: its class name in snake case."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _members(hint: Any) -> tuple[Any, ...]:
    """The alternatives of a union hint (`X | None` -> (X, NoneType)), else ()."""
    return typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else ()


def _is_expression(hint: Any) -> bool:
    return hint is E.Expr or (bool(_members(hint)) and set(_members(hint)) - {type(None)} == _EXPRESSIONS)


def to_json(value: Any, hint: Any = None) -> Any:
    """The JSON data of a plan value; `hint` is its declared type (a union's members get keys)."""
    if value is None or isinstance(value, bool | int | str) and not isinstance(value, enum.Enum):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if type(value) in _EXPRESSIONS:
        return E.to_json(value)
    if dataclasses.is_dataclass(value):
        fields = {}
        hints = _hints(type(value))
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            if f.default is not dataclasses.MISSING and item == f.default:
                continue
            if f.default_factory is not dataclasses.MISSING and item == f.default_factory():
                continue
            fields[f.name] = to_json(item, hints[f.name])
        tagged = len([m for m in _members(hint) if dataclasses.is_dataclass(m)]) > 1
        return {tag(type(value)): fields} if tagged else fields
    if isinstance(value, tuple | list):
        item_hint = typing.get_args(hint)[0] if typing.get_args(hint) else None
        return [to_json(item, item_hint) for item in value]
    if isinstance(value, dict):
        value_hint = typing.get_args(hint)[1] if typing.get_args(hint) else None
        return {to_json(k): to_json(v, value_hint) for k, v in value.items()}
    raise TypeError(f"not a plan value: {value!r}")


def from_json(hint: Any, data: Any) -> Any:
    """The plan value of declared type `hint` that `to_json` wrote as `data`."""
    if _is_expression(hint):
        return E.from_json(data)
    members = _members(hint)
    if members:
        if data is None and type(None) in members:
            return None
        classes = {tag(m): m for m in members if dataclasses.is_dataclass(m)}
        if len(classes) > 1:
            if not (isinstance(data, dict) and len(data) == 1 and next(iter(data)) in classes):
                raise ValueError(f"expected one of {sorted(classes)}, got {data!r}")
            ((key, fields),) = data.items()
            return from_json(classes[key], fields)
        (inner,) = [m for m in members if m is not type(None)]
        return from_json(inner, data)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple:
        return tuple(from_json(args[0], item) for item in _typed(list, data))
    if origin is dict:
        return {from_json(args[0], k): from_json(args[1], v) for k, v in _typed(dict, data).items()}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(data)
    if dataclasses.is_dataclass(hint):
        hints = _hints(hint)
        known = {f.name for f in dataclasses.fields(hint)}
        unknown = set(_typed(dict, data)) - known
        if unknown:
            raise ValueError(f"{hint.__name__} has no field {sorted(unknown)[0]!r}")
        return hint(**{name: from_json(hints[name], item) for name, item in data.items()})
    if hint in (bool, int, str):
        if type(data) is not hint:
            raise TypeError(f"expected {hint.__name__}, got {data!r}")
        return data
    raise TypeError(f"no JSON form for {hint!r}")


def _typed(kind: type, data: Any) -> Any:
    if not isinstance(data, kind):
        raise TypeError(f"expected a JSON {kind.__name__}, got {data!r}")
    return data
