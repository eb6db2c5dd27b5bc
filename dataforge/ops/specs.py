"""Op specs: how a chain is written down (CLI, recipes, Python) and built into ops.

``"NAME"``, ``"NAME:k=v,k2=v2"`` (values are YAML scalars or flow lists,
``roles=[user,assistant]``), ``{"op": NAME, **params}``, or an ``Operator`` instance.
Every op of a chain is built before any data is read, so a typo costs nothing.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import yaml

from ..errors import ConfigError
from .base import Operator, make_op

OpSpec = Operator | str | Mapping[str, Any]


def _split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside brackets and quotes, so ``roles=[a,b],n=2`` stays whole.

    A quote only opens a quoted string at the start of a value (after ``=``, ``,`` or a
    bracket), so an apostrophe inside a word (``text=don't``) is plain text.
    """
    parts, depth, quote, start, prev = [], 0, "", 0, ""
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"" and prev in ("", "=", ",", "[", "{", "(", ":", " "):
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        prev = ch
    parts.append(text[start:])
    return [p for p in (p.strip() for p in parts) if p]


def parse_op_spec(spec: str | Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """``"NAME:k=v,..."`` or ``{"op": NAME, **params}`` -> (name, params).

    Values go through ``yaml.safe_load`` so ``n=13`` is an int, ``x=0.5`` a float,
    ``flag=true`` a bool and ``roles=[user,assistant]`` a list, as a user would expect.
    """
    if isinstance(spec, Mapping):
        params = dict(spec)
        if "op" not in params:
            raise ConfigError(f"op spec {dict(spec)!r} needs an `op:` key naming the operator")
        return str(params.pop("op")), params
    if not isinstance(spec, str):
        raise ConfigError(f"op spec {spec!r}: expected \"NAME[:k=v,...]\" or a mapping with `op:`")
    name, _, rest = spec.partition(":")
    params: dict[str, Any] = {}
    for item in _split_top_level(rest):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"op spec {spec!r}: expected k=v, got {item!r}")
        try:
            params[key.strip()] = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ConfigError(f"op spec {spec!r}: value of {key.strip()!r} is not valid YAML: {problem}") from None
    if not name.strip():
        raise ConfigError(f"op spec {spec!r} names no operator")
    return name.strip(), params


def build_ops(ops: OpSpec | Sequence[OpSpec]) -> list[Operator]:
    """Instantiate every op of a chain up front, so a typo fails before any data is read.

    One op may be given alone (``"normalize"``, ``{"op": ...}`` or an ``Operator``)."""
    if isinstance(ops, (str, Mapping, Operator)):
        ops = [ops]
    built = []
    for spec in ops:
        if isinstance(spec, Operator):
            built.append(spec)
        else:
            name, params = parse_op_spec(spec)
            built.append(make_op(name, params))
    return built


__all__ = ["OpSpec", "build_ops", "parse_op_spec"]
