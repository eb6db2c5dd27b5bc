"""Generation engines: one interface, chosen by a single word.

``make_engine(kind, model=None, **options)`` builds an engine by kind; ``options`` are
checked against the engine's config (``Engine.config_model()``) before anything loads, so a
misspelt option fails with the nearest valid name. Engine classes register with
``@register_engine`` in the one registry (``ENGINES``, entry-point group
``posttrain.engines``); the built-in ones are named in ``ENGINES.lazy`` and imported only
when asked for, so ``import dataforge.synth.engines`` loads neither torch nor vLLM:

.. code-block:: python

    @register_engine
    class MyEngine(Engine):
        kind = "my-server"

        def __init__(self, model: str | None = None, *, url: str = "...") -> None: ...
        def _generate(self, requests, params): ...
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any, TypeVar

from ...config import validate_config
from ...registry import Registry
from .base import Engine, Generation, GenerationParams, GenerationRequest

_E = TypeVar("_E", bound=type[Engine])

#: every engine kind; built-ins are imported lazily (they import heavy libraries)
ENGINES: Registry[type[Engine]] = Registry(
    "engine",
    group="posttrain.engines",
    lazy={
        "transformers": "dataforge.synth.engines.transformers_engine",
        "openai": "dataforge.synth.engines.openai_engine",
        "vllm": "dataforge.synth.engines.vllm_engine",
        "llamacpp": "dataforge.synth.engines.llamacpp_engine",
    },
)


def register_engine(cls: _E) -> _E:
    """Class decorator: make ``cls`` available to ``make_engine`` under ``cls.kind``."""
    if not cls.kind:
        raise ValueError(f"{cls.__name__} must set a non-empty `kind` to be registered")
    return ENGINES.add(cls.kind, cls)


def engine_kinds() -> list[str]:
    """Every kind ``make_engine`` accepts (built-in ones included before they are imported)."""
    return ENGINES.names()


def engine_class(kind: str) -> type[Engine]:
    """The class registered for ``kind``, importing its built-in module on first use."""
    return ENGINES.get(kind)


#: the kind that picks the fastest engine this machine has for the model (see resolve_kind)
AUTO = "auto"


def _gpu_visible() -> bool:
    """A CUDA device is visible, checked without importing torch (it takes seconds)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    gpus = Path("/proc/driver/nvidia/gpus")
    return Path("/dev/nvidiactl").exists() or (gpus.is_dir() and any(gpus.iterdir()))


def resolve_kind(kind: str, model: str | None = None) -> str:
    """``auto`` -> ``llamacpp`` on a machine without a GPU when llama-cpp-python is
    installed and ``model`` is a GGUF (the embedded default is one), else
    ``transformers``; any other kind is returned unchanged.

    On CPU the GGUF runs quantized in llama.cpp, several times faster than the fp32
    transformers engine (docs/benchmarks.md); with a GPU, or a model that has no GGUF,
    the transformers engine is the one that runs it."""
    if kind != AUTO:
        return kind
    if _gpu_visible() or importlib.util.find_spec("llama_cpp") is None:
        return "transformers"
    from ...errors import UserError
    from .llamacpp_engine import gguf_path

    try:
        gguf_path(model)
    except UserError:
        return "transformers"
    return "llamacpp"


def check_engine_options(kind: str, options: dict[str, Any] | None, model: str | None = None) -> dict[str, Any]:
    """Validated engine options (defaults filled in); a :class:`ConfigError` names the bad key."""
    kind = resolve_kind(kind, model)
    cls = engine_class(kind)
    config = validate_config(cls.config_model(), options or {}, f"engine {kind!r}")
    return config.model_dump(exclude_unset=True)


def make_engine(kind: str = AUTO, model: str | None = None, **options: Any) -> Engine:
    """Build an engine. ``model`` is an alias, a local folder or a hub id; ``None`` means
    the engine's default (the embedded SmolLM2-135M-Instruct for ``transformers`` and
    ``llamacpp``). ``kind="auto"`` picks ``llamacpp`` or ``transformers`` (see
    :func:`resolve_kind`). ``options`` go to the engine class (e.g. ``batch_size``)."""
    kind = resolve_kind(kind, model)
    return engine_class(kind)(model, **check_engine_options(kind, options))  # type: ignore[call-arg]


__all__ = [
    "AUTO",
    "ENGINES",
    "Engine",
    "Generation",
    "GenerationParams",
    "GenerationRequest",
    "check_engine_options",
    "engine_class",
    "engine_kinds",
    "make_engine",
    "register_engine",
    "resolve_kind",
]
