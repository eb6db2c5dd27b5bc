"""Our metrics through the Hugging Face ``evaluate`` API, loaded from local module files.

``evaluate.load("bleu")`` fetches its script from the hub, which fails offline; a local
``evaluate.Metric`` script loads with ``evaluate.load("/abs/path.py")``. Each metric has
a small script in ``evaluate_modules/`` that calls the registered function, so the two APIs
can never disagree::

    import evaluate
    from evalkit.metrics.hf_evaluate import evaluate_module_path
    evaluate.load(evaluate_module_path("bleu")).compute(predictions=p, references=r)

Columns are the module's features (``predictions``/``references``, strings); other
``MetricInputs`` columns (``prompts``, ``messages``, ``tools``, ``model``) and the metric's
parameters are passed as keyword arguments to ``compute``. The result is the metric's
``to_dict()`` plus ``per_example``.

This module imports ``evaluate``/``datasets`` only inside the helpers the scripts call, so
loading the metric registry stays light.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Sequence

from .base import MetricInputs, get_metric

_MODULES = Path(__file__).parent / "evaluate_modules"
_COLUMNS = ("references", "prompts", "messages", "tools", "model")


def evaluate_module_path(name: str) -> str:
    """Absolute path of the ``evaluate`` module script of metric ``name``."""
    path = _MODULES / f"{name}.py"
    if not path.is_file():
        known = sorted(p.stem for p in _MODULES.glob("*.py"))
        raise KeyError(f"no evaluate module for metric {name!r}; known: {', '.join(known)}")
    return str(path)


def metric_info(name: str, features: Sequence[str]) -> Any:
    """``evaluate.MetricInfo`` for metric ``name`` with string-valued ``features``."""
    import datasets
    import evaluate

    return evaluate.MetricInfo(
        description=inspect.getdoc(get_metric(name)) or name,
        citation="",
        inputs_description=(
            f"Columns {', '.join(features)} (strings); other MetricInputs columns and the "
            "metric's parameters as keyword arguments."
        ),
        features=datasets.Features({f: datasets.Value("string") for f in features}),
    )


def compute(name: str, predictions: Sequence[str] | None = None, **kwargs: Any) -> dict[str, Any]:
    """Run metric ``name`` on ``evaluate``'s columns; the rest of ``kwargs`` are parameters."""
    columns = {key: kwargs.pop(key) for key in _COLUMNS if key in kwargs}
    inputs = MetricInputs(predictions=list(predictions or []), **columns)
    result = get_metric(name)(inputs, **kwargs)
    return {**result.to_dict(), "per_example": result.per_example}
