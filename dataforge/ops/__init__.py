"""Operators over canonical records: see ``base.py`` for the contract.

Every module in this package that defines an ``Operator`` subclass with a ``name`` is a
built-in op; ``load_builtin_ops`` imports them all so the registry is complete.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import Operator, OpConfig, OpResult, get_op, make_op, registry

_LOADED = False


def load_builtin_ops() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    for info in pkgutil.iter_modules(__path__):
        if info.name not in {"base", "chain"} and not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


__all__ = ["Operator", "OpConfig", "OpResult", "get_op", "make_op", "registry", "load_builtin_ops"]
