"""Small helpers the metric modules share: signatures and input checks."""

from __future__ import annotations

import functools
import importlib.metadata
from typing import Any, Sequence

from .base import MetricInputs


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


def references(inputs: MetricInputs, metric: str) -> Sequence[str]:
    """The reference column, checked to exist and to align with the predictions."""
    refs = inputs.references
    if refs is None:
        raise ValueError(f"metric {metric!r} needs references")
    if len(refs) != len(inputs.predictions):
        raise ValueError(
            f"metric {metric!r}: {len(inputs.predictions)} predictions "
            f"but {len(refs)} references"
        )
    return refs


def with_references(inputs: MetricInputs, metric: str) -> tuple[list[int], list[str], list[str]]:
    """Rows that have a reference: their indices, predictions (None read as "") and references.

    Eval sets may mix records with and without a reference answer; reference-based metrics
    score the rows that have one and report None for the others.
    """
    refs = references(inputs, metric)
    rows = [i for i, ref in enumerate(refs) if ref is not None]
    return rows, [inputs.predictions[i] or "" for i in rows], [refs[i] for i in rows]


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

    for column in (inputs.references, inputs.prompts, inputs.predictions):
        texts = [t for t in (column or []) if t]
        if texts:
            return resolve_lang(lang, texts)
    return resolve_lang(lang, [])
