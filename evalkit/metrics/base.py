"""The metric contract.

A metric is a plain function over columns, registered by name:

.. code-block:: python

    @register_metric("distinct")
    def distinct(inputs: MetricInputs, *, n: int = 2, lang: str = "auto") -> MetricResult: ...

``MetricInputs`` carries aligned columns (predictions, references, prompts, optional
tools / languages) plus, for model-based metrics, a model reference. A result has a
corpus-level ``score``, optional per-example values aligned with the inputs (the compare
step bootstraps over them), and a ``signature``: a sacrebleu-style string saying exactly
how the number was computed (tokenizer, smoothing, model, version), stored with the score,
and ``higher_is_better`` (False for PPL and Self-BLEU), which ``evalkit compare`` reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

MetricFn = Callable[..., "MetricResult"]


@dataclass
class MetricInputs:
    predictions: Sequence[str]
    references: Sequence[str] | None = None
    prompts: Sequence[str] | None = None
    # canonical messages of each prompt (for PPL on assistant tokens, tool validity)
    messages: Sequence[list[dict[str, Any]]] | None = None
    tools: Sequence[str | None] | None = None
    model: str | None = None  # for model-based metrics (PPL); alias, path or hub id


@dataclass
class MetricResult:
    name: str
    score: float
    signature: str
    per_example: list[float | None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: direction, stored with the score: ``evalkit compare`` reads it to call a delta better/worse
    higher_is_better: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "score": self.score, "signature": self.signature,
                "higher_is_better": self.higher_is_better, **self.extra}


_METRICS: dict[str, MetricFn] = {}


def register_metric(name: str) -> Callable[[MetricFn], MetricFn]:
    def deco(fn: MetricFn) -> MetricFn:
        if name in _METRICS and _METRICS[name] is not fn:
            raise ValueError(f"metric {name!r} registered twice")
        _METRICS[name] = fn
        return fn

    return deco


def metric_registry() -> dict[str, MetricFn]:
    from . import load_builtin_metrics

    load_builtin_metrics()
    return dict(sorted(_METRICS.items()))


def get_metric(name: str) -> MetricFn:
    metrics = metric_registry()
    if name not in metrics:
        raise KeyError(f"unknown metric {name!r}; known: {', '.join(metrics)}")
    return metrics[name]
