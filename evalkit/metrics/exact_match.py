"""Exact match / accuracy after a composable list of normalizers.

A normalizer list is applied, in order, to both prediction and reference. The normalizers
and extractors (``strip``, ``lowercase``, ``remove_punct``, ``collapse_whitespace``,
``extract:number``, ``extract:choice``, ``extract:final``) live in
``dataforge.verifiers.answers``, shared with the verifiers that score best-of-K samples and
GRPO rewards. Numbers compare with ``math.isclose`` (relative and absolute ``tolerance``),
so ``0.75`` equals ``3/4``.

An extractor must come last. When nothing can be extracted the example counts as wrong
(also when both sides fail), and ``extra`` counts such examples for each side. Rows
without a reference are left out (None per example). With several references an example
is correct when it matches any of them (SQuAD's and lm-eval's convention).

``accuracy`` is the same computation under the name used for classification and
multiple-choice tasks.
"""

from __future__ import annotations

from typing import Sequence

from dataforge.verifiers.answers import NormalizerSpec, extract_number, normalize_with, same_answer

from ._common import mean, scatter, signature, version, with_references
from .base import MetricInputs, MetricResult, register_metric


def _match(
    name: str, inputs: MetricInputs, normalizers: Sequence[NormalizerSpec], tolerance: float
) -> MetricResult:
    names, normalize, extractor = normalize_with(normalizers)

    rows, raw_predictions, raw_golds = with_references(inputs, name)
    predictions = [normalize(p) for p in raw_predictions]
    golds = [[normalize(r) for r in refs] for refs in raw_golds]
    correct = [float(any(same_answer(p, g, tolerance) for g in refs)) for p, refs in zip(predictions, golds)]
    per_example = scatter(len(inputs.predictions), rows, correct)
    extra = {}
    if extractor is not None:
        extra = {
            "unextracted_predictions": sum(p is None for p in predictions),
            "unextracted_references": sum(all(g is None for g in refs) for refs in golds),
        }
    return MetricResult(
        name=name,
        score=mean(per_example),
        signature=signature(
            norm="+".join(names) or "none",
            **({"tol": tolerance} if extractor is extract_number else {}),
            posttrain=version("posttrain"),
        ),
        per_example=per_example,
        extra=extra,
    )


@register_metric("exact_match")
def exact_match(
    inputs: MetricInputs,
    *,
    normalizers: Sequence[NormalizerSpec] = ("strip",),
    tolerance: float = 1e-9,
) -> MetricResult:
    """Share of predictions equal to their reference after ``normalizers``."""
    return _match("exact_match", inputs, normalizers, tolerance)


@register_metric("accuracy")
def accuracy(
    inputs: MetricInputs,
    *,
    normalizers: Sequence[NormalizerSpec] = ("strip",),
    tolerance: float = 1e-9,
) -> MetricResult:
    """``exact_match`` for classification / multiple choice (e.g. ``["extract:choice"]``)."""
    return _match("accuracy", inputs, normalizers, tolerance)
