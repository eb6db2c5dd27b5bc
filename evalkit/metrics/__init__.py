"""Built-in metrics; every module here registers its metrics with ``@register_metric``
and the registry (``METRICS``) imports them all on first lookup."""

from __future__ import annotations

from .base import (
    METRICS, MetricInputs, MetricRefused, MetricResult, check_metric_params, get_metric, metric_config, metric_registry,
    register_metric,
)
from .hf_evaluate import evaluate_module_path

__all__ = [
    "METRICS", "MetricInputs", "MetricRefused", "MetricResult", "check_metric_params", "evaluate_module_path", "get_metric",
    "metric_config", "metric_registry", "register_metric",
]
