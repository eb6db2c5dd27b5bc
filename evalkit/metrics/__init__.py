"""Built-in metrics; every module here registers its metrics on import."""

from __future__ import annotations

import importlib
import pkgutil

from .base import MetricInputs, MetricResult, get_metric, metric_registry, register_metric
from .hf_evaluate import evaluate_module_path

_LOADED = False


def load_builtin_metrics() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    for info in pkgutil.iter_modules(__path__):
        if info.name not in {"base", "hf_evaluate"} and not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


__all__ = ["evaluate_module_path", "MetricInputs", "MetricResult", "get_metric", "metric_registry", "register_metric"]
