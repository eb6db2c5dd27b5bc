"""Small helpers the metric modules share: signatures and input checks."""

from __future__ import annotations

import functools
import importlib.metadata
from typing import Any, Sequence

from .base import MetricInputs, MetricRefused


def signature(**fields: Any) -> str:
    """sacrebleu-style ``key:value|key:value`` string; booleans read as yes/no."""
    parts = []
    for key, value in fields.items():
        if isinstance(value, bool):
            value = "yes" if value else "no"
        parts.append(f"{key}:{value}")
    return "|".join(parts)


@functools.cache
def version(distribution: str) -> str:
    """Installed version of a distribution, for signatures (``unknown`` if not installed)."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def references(inputs: MetricInputs, metric: str) -> list[list[str]]:
    """Every example's references as a list (empty when it has none), checked to exist
    and to align with the predictions. A row may hold one text or several."""
    refs = inputs.references
    if refs is None:
        raise MetricRefused(f"metric {metric!r} needs references")
    if len(refs) != len(inputs.predictions):
        raise MetricRefused(
            f"metric {metric!r}: {len(inputs.predictions)} predictions "
            f"but {len(refs)} references"
        )
    return [[] if r is None else [r] if isinstance(r, str) else [x for x in r if x is not None] for r in refs]


def with_references(inputs: MetricInputs, metric: str) -> tuple[list[int], list[str], list[list[str]]]:
    """Rows that have a reference: their indices, predictions (None read as "") and
    references (a list per row: one or several).

    Eval sets may mix records with and without a reference answer; reference-based metrics
    score the rows that have one and report None for the others. A metric with no row to
    score refuses (:class:`MetricRefused`).
    """
    refs = references(inputs, metric)
    rows = [i for i, ref in enumerate(refs) if ref]
    if not rows:
        raise MetricRefused(f"{metric}: no row has a reference")
    return rows, [inputs.predictions[i] or "" for i in rows], [refs[i] for i in rows]


def reference_texts(inputs: MetricInputs) -> list[str]:
    """Every reference text of every row, flattened (for language detection)."""
    return [text for ref in inputs.references or [] if ref is not None
            for text in ([ref] if isinstance(ref, str) else ref) if text]


def scatter(size: int, rows: Sequence[int], values: Sequence[float]) -> list[float | None]:
    """Per-example values aligned with all ``size`` inputs (None where not scored)."""
    out: list[float | None] = [None] * size
    for row, value in zip(rows, values):
        out[row] = value
    return out


def mean(values: Sequence[float | None]) -> float:
    """Mean over the non-None values (NaN when there are none)."""
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else float("nan")


def corpus_lang(lang: str, inputs: MetricInputs) -> str:
    """Resolve ``lang`` for a metric, detecting ``auto`` from the *eval data*.

    The language is read from the references (else the prompts), which are the same for
    every run on one eval set, and only from the predictions when neither exists. Detecting
    it from predictions would let two models on the same data get different tokenizers,
    and their scores could no longer be compared.
    """
    from ..text import resolve_lang

    for texts in (reference_texts(inputs), [t for t in inputs.prompts or [] if t],
                  [t for t in inputs.predictions if t]):
        if texts:
            return resolve_lang(lang, texts)
    return resolve_lang(lang, [])
