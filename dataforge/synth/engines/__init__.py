"""Generation engines: one interface, chosen by a single word.

``make_engine(kind, model=None, **options)`` builds an engine by kind. Engine classes
register themselves with ``@register_engine``; the built-in ones live in their own modules
and are imported only when asked for, so ``import dataforge.synth.engines`` loads neither
torch nor vLLM. Adding an engine (built in or third party) is one registered class:

.. code-block:: python

    @register_engine
    class MyEngine(Engine):
        kind = "my-server"

        def __init__(self, model: str | None = None, *, url: str = "...") -> None: ...
        def _generate(self, requests, params): ...

Built-in kinds and the module that defines each are listed in ``_BUILTIN``; a later
engine only adds its line there.
"""

from __future__ import annotations

import importlib
from typing import Any, TypeVar

from .base import Engine, Generation, GenerationParams, GenerationRequest

_E = TypeVar("_E", bound=type[Engine])

#: kind -> module whose import registers it (lazy: these modules import heavy libraries).
_BUILTIN: dict[str, str] = {
    "transformers": "dataforge.synth.engines.transformers_engine",
}

_ENGINES: dict[str, type[Engine]] = {}


def register_engine(cls: _E) -> _E:
    """Class decorator: make ``cls`` available to ``make_engine`` under ``cls.kind``."""
    if not cls.kind:
        raise ValueError(f"{cls.__name__} must set a non-empty `kind` to be registered")
    known = _ENGINES.get(cls.kind)
    if known is not None and known is not cls:
        raise ValueError(f"engine kind {cls.kind!r} is already registered by {known.__name__}")
    _ENGINES[cls.kind] = cls
    return cls


def engine_kinds() -> list[str]:
    """Every kind ``make_engine`` accepts (built-in ones included before they are imported)."""
    return sorted(set(_BUILTIN) | set(_ENGINES))


def engine_class(kind: str) -> type[Engine]:
    """The class registered for ``kind``, importing its built-in module on first use."""
    if kind not in _ENGINES and kind in _BUILTIN:
        importlib.import_module(_BUILTIN[kind])
    try:
        return _ENGINES[kind]
    except KeyError:
        raise KeyError(f"unknown engine kind {kind!r}; known: {', '.join(engine_kinds())}") from None


def make_engine(kind: str = "transformers", model: str | None = None, **options: Any) -> Engine:
    """Build an engine. ``model`` is an alias, a local folder or a hub id; ``None`` means
    the engine's default (the embedded SmolLM2-135M-Instruct for ``transformers``).
    ``options`` go to the engine class (e.g. ``batch_size``, ``device``, ``dtype``)."""
    return engine_class(kind)(model, **options)  # type: ignore[call-arg]


__all__ = [
    "Engine",
    "Generation",
    "GenerationParams",
    "GenerationRequest",
    "engine_class",
    "engine_kinds",
    "make_engine",
    "register_engine",
]
