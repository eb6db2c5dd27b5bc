"""dataforge: data engineering for LLM post-training over one canonical record.

Python API (polars DataFrames in the canonical schema, see ``dataforge.schemas``):

* ``read(path, format=None) -> pl.DataFrame``         any supported file -> canonical
* ``load(path, format=None) -> LoadResult``           the same, with rejected rows and stats
* ``write(df, path, format="canonical")``             canonical -> any supported format
* ``apply(df, ops) -> ChainResult``                   run operators (kept, rejected, stats)

Names resolve lazily so ``import dataforge`` stays light (no torch, no presidio).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "read": "dataforge.formats.api",
    "load": "dataforge.formats.api",
    "write": "dataforge.formats.api",
    "detect_format": "dataforge.formats.api",
    "apply": "dataforge.ops.chain",
}


#: subpackages reachable as attributes without an import of their own
#: (``dataforge.formats.api.to_trl_dataset`` right after ``import dataforge``)
_SUBPACKAGES = {"formats", "ops", "schemas", "synth", "verifiers", "recipe", "compose", "models", "errors"}


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"dataforge.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dataforge' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = sorted(_LAZY)
