"""Bootstrap statistics over examples, as matrix products.

A resample is a row of multiplicities: ``W[b, i]`` = how often example ``i`` was drawn in
resample ``b`` (indices ``numpy.random.default_rng(seed).integers(0, n, size=(n_boot, n))``).
Any statistic that is a function of per-example sums then costs one ``W @ x``: a mean is
``W @ v / W @ 1``; corpus BLEU is BLEU of ``W @ stats`` over sacrebleu's sentence-level
sufficient statistics. The same ``W`` serves every run and metric, which is what makes
the bootstrap *paired*: each resample asks "on this same draw of examples, how did B do
against A?".

A :class:`Statistic` maps ``W`` to one value per resample; evaluated on a single row of
ones it reproduces the metric's corpus score, which :func:`statistic_for` checks before
trusting it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import polars as pl

#: Method names, as shown in reports.
MEAN, CORPUS_BLEU, MEAN_PROXY, NONE = "mean", "corpus-bleu", "mean-proxy", "none"
_MY_LOG_ZERO = -9999999999.0  # sacrebleu's log(0)


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


def bleu_from_sums(sums: np.ndarray, smooth: str = "exp", smooth_value: float = 0.1) -> np.ndarray:
    """sacrebleu's corpus BLEU (``compute_bleu``, max order 4, no effective order) per row of
    summed statistics ``[sys_len, ref_len, correct_1..4, total_1..4]``."""
    sys_len, ref_len = sums[:, 0], sums[:, 1]
    correct, total = sums[:, 2:6], sums[:, 6:10]
    with np.errstate(invalid="ignore", divide="ignore"):
        bp = np.where(sys_len < ref_len,
                      np.where(sys_len > 0, np.exp(1.0 - ref_len / np.maximum(sys_len, 1e-300)), 0.0), 1.0)
        zero = correct == 0
        if smooth == "exp":
            smoothed = 100.0 / (2.0 ** np.cumsum(zero, axis=1) * total)
        elif smooth == "floor":
            smoothed = 100.0 * smooth_value / total
        else:
            smoothed = np.zeros_like(total)
        precision = np.where(zero, smoothed, 100.0 * correct / total)
        # totals only shrink with n, so sacrebleu's early break leaves the rest at 0
        precision = np.where(total > 0, precision, 0.0)
        logs = np.where(precision > 0, np.log(np.where(precision > 0, precision, 1.0)), _MY_LOG_ZERO)
        score = bp * np.exp(logs.mean(axis=1))
    return np.where(correct.sum(axis=1) == 0, 0.0, score)


def parse_signature(signature: str) -> dict[str, str]:
    """``"a:1|b:x"`` -> {"a": "1", "b": "x"}."""
    return dict(part.split(":", 1) for part in signature.split("|") if ":" in part)


def bleu_statistic(frame: pl.DataFrame, signature: str) -> Statistic | None:
    """Exact corpus-BLEU statistic from sacrebleu's sentence statistics, or None when the
    signature asks for something ``bleu_from_sums`` does not reproduce."""
    from sacrebleu.metrics import BLEU

    sig = parse_signature(signature)
    smooth = sig.get("smooth", "exp")
    if sig.get("nrefs") != "1" or sig.get("eff", "no") != "no" or smooth not in ("exp", "floor", "none"):
        return None
    bleu = BLEU(tokenize=sig.get("tok", "13a"), lowercase=sig.get("case") == "lc", smooth_method=smooth)
    hyps = frame["prediction"].fill_null("").to_list()
    refs = frame["reference"].fill_null("").to_list()
    stats = np.asarray(bleu._extract_corpus_statistics(hyps, [refs]), dtype=float)
    smooth_value = BLEU.SMOOTH_DEFAULTS.get(smooth) or 0.0
    return Statistic(CORPUS_BLEU, lambda w: bleu_from_sums(w @ stats, smooth, smooth_value),
                     np.ones(frame.height, dtype=bool))


def statistic_for(metric: str, info: dict, frame: pl.DataFrame, values: np.ndarray | None) -> Statistic | None:
    """The best statistic that reproduces ``metric``'s corpus score on ``frame``.

    Exact corpus BLEU when the score is sacrebleu BLEU; else the per-example mean when it
    equals the score; else the per-example mean as a labelled proxy; None without values.
    """
    score = info.get("score")
    if score is None:
        return None
    close = lambda x: abs(x - score) <= 1e-6 * max(1.0, abs(score))  # noqa: E731
    if metric.split("@")[0].rsplit("/", 1)[-1] == "bleu" and "tok:" in info.get("signature", ""):
        exact = bleu_statistic(frame, info["signature"])
        if exact is not None and close(exact.full()):
            return exact
    if values is None or not np.isfinite(values).any():
        return None
    mean = mean_statistic(values)
    return mean if close(mean.full()) else mean_statistic(values, method=MEAN_PROXY)
