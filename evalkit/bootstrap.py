"""Bootstrap statistics over examples: every corpus metric recomputed on every resample.

A resample is a row of multiplicities: ``W[b, i]`` = how often example ``i`` was drawn in
resample ``b`` (indices ``numpy.random.default_rng(seed).integers(0, n, size=(n_boot, n))``).
The same ``W`` serves every run and metric, which is what makes the bootstrap *paired*:
each resample asks "on this same draw of examples, how did B do against A?".

A :class:`Statistic` maps ``W`` to the metric's corpus value on each resample. Two kinds:

* ``mean``: the corpus score is the mean of per-example values (exact match, BERTScore,
  JSON validity): ``W @ v / W @ 1``.
* ``corpus``: the metric's own corpus formula, recomputed on every resample from counts
  extracted once (BLEU from summed sacrebleu statistics, PPL from summed NLL and tokens,
  Distinct-n from n-gram presence, Self-BLEU against the other drawn generations). Each
  metric module registers its builder with :func:`resamples`.

Evaluated on a single row of ones a statistic reproduces the stored corpus score, which
:func:`statistic_for` checks before trusting it; a metric it cannot reproduce gets no CI
(method ``none``), never an approximation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import polars as pl

#: Method names, as shown in reports.
MEAN, CORPUS, NONE = "mean", "corpus", "none"
#: builder(frame, metric info, per-example reference lists) -> Statistic or None
StatisticBuilder = Callable[[pl.DataFrame, dict[str, Any], list[list[str]]], "Statistic | None"]


def resample_weights(n: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n) multiplicities of each example in each resample (rows sum to n)."""
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    weights = np.zeros((n_boot, n))
    np.add.at(weights, (np.arange(n_boot)[:, None], idx), 1.0)
    return weights


def percentile_ci(samples: np.ndarray, confidence: float) -> tuple[float | None, float | None]:
    """Percentile interval of the finite resampled values (None when there are none)."""
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return None, None
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(finite, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


@dataclass
class Statistic:
    """A metric's corpus statistic as a function of resample weights."""

    method: str
    fn: Callable[[np.ndarray], np.ndarray]
    mask: np.ndarray  # examples the statistic uses (per-example value present)

    def __call__(self, weights: np.ndarray) -> np.ndarray:
        return self.fn(weights)

    def full(self) -> float:
        """The statistic on the original sample (every example once)."""
        return float(self.fn(np.ones((1, self.mask.size)))[0])


def mean_statistic(values: np.ndarray, mask: np.ndarray | None = None, method: str = MEAN) -> Statistic:
    """Mean of ``values`` over the examples in ``mask`` (default: the finite ones)."""
    keep = np.isfinite(values) if mask is None else mask & np.isfinite(values)
    v = np.where(keep, values, 0.0)
    m = keep.astype(float)

    def fn(weights: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return (weights @ v) / (weights @ m)

    return Statistic(method, fn, keep)


def resamples(metric: Callable[..., Any]) -> Callable[[StatisticBuilder], StatisticBuilder]:
    """Register ``builder`` as the exact resampled statistic of ``metric`` (a registered
    metric function): ``evalkit compare`` calls it with a run's predictions frame (baseline
    id order), the metric's stored entry and the per-example reference lists."""

    def deco(builder: StatisticBuilder) -> StatisticBuilder:
        metric.statistic = builder  # type: ignore[attr-defined]
        return builder

    return deco


def _exact_builder(metric: str) -> StatisticBuilder | None:
    from .metrics import METRICS

    return getattr(METRICS.get(metric), "statistic", None) if metric in METRICS else None


def statistic_for(metric: str, info: dict, frame: pl.DataFrame, values: np.ndarray | None) -> Statistic | None:
    """The statistic that reproduces ``metric``'s stored corpus score on ``frame``.

    The metric's exact corpus statistic when it has one, else the per-example mean when
    the score is that mean (lm-eval accuracies, exact match); None when neither reproduces
    the score: no CI rather than a proxy.
    """
    from .store import reference_lists

    score = info.get("score")
    if score is None:
        return None
    close = lambda x: abs(x - score) <= 1e-6 * max(1.0, abs(score))  # noqa: E731
    builder = _exact_builder(metric)
    if builder is not None:
        exact = builder(frame, info, reference_lists(frame))
        if exact is not None and close(exact.full()):
            return exact
    if values is None or not np.isfinite(values).any():
        return None
    mean = mean_statistic(values)
    return mean if close(mean.full()) else None
