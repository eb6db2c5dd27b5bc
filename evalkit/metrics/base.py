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

from dataforge.config import Config, config_from_signature, validate_config
from dataforge.errors import UserError
from dataforge.registry import Registry

MetricFn = Callable[..., "MetricResult"]
#: One example's reference(s): one text, several (multi-reference BLEU), or None (no reference).
Reference = str | Sequence[str] | None


class MetricRefused(UserError, ValueError):
    """A metric cannot score these inputs (no references, too few generations, a bad
    parameter or record): an eval run records it as the metric's ``error`` and goes on."""


@dataclass
class MetricInputs:
    predictions: Sequence[str]
    #: per example one reference text, a list of them, or None
    references: Sequence[Reference] | None = None
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


#: every metric: built-ins in ``evalkit.metrics``, plug-ins under ``posttrain.metrics``
METRICS: Registry[MetricFn] = Registry("metric", group="posttrain.metrics", packages=("evalkit.metrics",))


def register_metric(name: str) -> Callable[[MetricFn], MetricFn]:
    """Decorator: register ``fn(inputs, *, param=default, ...)`` under ``name``. Its keyword
    parameters become its typed config (``metric_config(name)``), so ``metric_params`` are
    checked before anything is generated."""

    def deco(fn: MetricFn) -> MetricFn:
        fn.Config = config_from_signature(fn, name)  # type: ignore[attr-defined]
        return METRICS.add(name, fn)

    return deco


def metric_registry() -> dict[str, MetricFn]:
    return METRICS.items()


def get_metric(name: str) -> MetricFn:
    return METRICS.get(name)


def metric_config(name: str) -> type[Config]:
    """The typed parameters of a metric (derived from its keyword arguments)."""
    fn = get_metric(name)
    return getattr(fn, "Config", None) or config_from_signature(fn, name)


def check_metric_params(name: str, params: dict[str, Any] | None) -> dict[str, Any]:
    """``params`` validated against the metric's config (only the keys given are returned,
    so the metric's own defaults stay in charge); a :class:`ConfigError` names a typo."""
    config = validate_config(metric_config(name), params or {}, f"metric {name!r}")
    return config.model_dump(exclude_unset=True)
