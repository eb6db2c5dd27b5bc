"""Pairwise win-rate statistics from per-example judge outcomes.

Outcomes are from the candidate B's side against the baseline A: ``"win"``, ``"tie"``,
``"loss"``, or ``"unparseable"`` (excluded from every statistic, but counted). This is
``PairwiseResult.outcome`` from ``dataforge.synth.judge``; the per-order verdicts
(``verdict_ab``/``verdict_ba``) give the position-consistency rate and the answer lengths
the length-controlled win-rate. The formulas are in docs/judge.md.

.. code-block:: python

    r = win_rate([p.outcome for p in results],
                 verdicts_ab=[p.verdict_ab for p in results],
                 verdicts_ba=[p.verdict_ba for p in results],
                 len_a=[len(a) for a in answers_a], len_b=[len(b) for b in answers_b])
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .bootstrap import mean_statistic, percentile_ci, resample_weights

#: Value of each judged outcome; ties count half.
OUTCOME_SCORES = {"win": 1.0, "tie": 0.5, "loss": 0.0}
#: Fewer parseable verdicts (or pairs parsed in both orders) than this and the bootstrap CI
#: (or the position consistency) is not reported: with 1 verdict it would read [0.5, 0.5]
#: or 1.0, a certainty the data does not have.
MIN_JUDGED = 5
UNPARSEABLE = "unparseable"
_VERDICTS = ("A", "B", "tie")


@dataclass
class WinRateResult:
    wins: int
    ties: int
    losses: int
    unparseable: int
    win_rate: float  # (wins + ties / 2) / judged; nan when nothing was judged
    ci_low: float
    ci_high: float
    position_consistency: float | None  # share of both-orders-parsed pairs that agreed
    lc_win_rate: float | None  # length-controlled; None without lengths
    signature: str
    consistency_pairs: int = 0  # pairs with a verdict in both orders
    #: why a CI or consistency is missing (too few verdicts), for reports
    note: str | None = None

    @property
    def judged(self) -> int:
        return self.wins + self.ties + self.losses

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "judged": self.judged}


def outcome_scores(outcomes: Sequence[str]) -> np.ndarray:
    """1 / 0.5 / 0 for each judged outcome, NaN for unparseable; unknown labels are errors."""
    unknown = sorted(set(outcomes) - set(OUTCOME_SCORES) - {UNPARSEABLE})
    if unknown:
        raise ValueError(f"unknown outcome(s) {unknown}; expected win/tie/loss/{UNPARSEABLE}")
    return np.array([OUTCOME_SCORES.get(o, math.nan) for o in outcomes], dtype=float)


def bootstrap_ci(
    values: Sequence[float] | np.ndarray, *, n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (seeded, so reproducible);
    the resampling of :mod:`evalkit.bootstrap`, as ``evalkit compare`` uses."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return (math.nan, math.nan)
    means = mean_statistic(data)(resample_weights(data.size, n_resamples, seed))
    low, high = percentile_ci(means, confidence)
    return (math.nan if low is None else low, math.nan if high is None else high)


def _both_orders(verdicts_ab: Sequence[str | None], verdicts_ba: Sequence[str | None]) -> list[tuple[str, str]]:
    return [(x, y) for x, y in zip(verdicts_ab, verdicts_ba, strict=True) if x in _VERDICTS and y in _VERDICTS]


def position_consistency(
    verdicts_ab: Sequence[str | None], verdicts_ba: Sequence[str | None]
) -> float | None:
    """Share of pairs, among those with a verdict in both orders, whose verdicts agree
    (in the caller's A/B labels). None when no pair has both."""
    both = _both_orders(verdicts_ab, verdicts_ba)
    if not both:
        return None
    return sum(x == y for x, y in both) / len(both)


def _sigmoid(z: np.ndarray | float) -> np.ndarray:
    """The logistic function in its overflow-free tanh form."""
    return 0.5 * (1.0 + np.tanh(np.asarray(z) / 2.0))


def _fit_logistic(x: np.ndarray, y: np.ndarray, l2: float) -> np.ndarray:
    """Newton's method for P(y=1) = sigmoid(t0 + t1 x) with soft labels y in [0, 1] and
    penalty l2/2 * t1^2 (intercept unpenalized). Soft label 0.5 is the same likelihood as
    two rows (y=1, y=0) of weight 0.5 each."""
    design = np.column_stack([np.ones_like(x), x])
    penalty = np.diag([0.0, l2])
    theta = np.zeros(2)
    for _ in range(200):
        p = _sigmoid(design @ theta)
        grad = design.T @ (p - y) + penalty @ theta
        hess = design.T @ (design * (p * (1.0 - p))[:, None]) + penalty
        step = np.linalg.lstsq(hess, grad, rcond=None)[0]
        theta -= step
        if np.max(np.abs(step)) < 1e-12:
            break
    return theta


def length_controlled_win_rate(
    outcomes: Sequence[str], len_a: Sequence[float], len_b: Sequence[float], *, l2: float = 1.0
) -> float | None:
    """B's win-rate with the length advantage regressed out (AlpacaEval's idea, fit on the
    caller's own prompts): fit ``P(B wins) = sigmoid(t0 + t1 * tanh(d / std(d)))`` with
    ``d = len_b - len_a`` and report the prediction at ``d = 0``, ``sigmoid(t0)``. The unit
    of length is irrelevant (``d / std(d)`` is scale-free). ``l2`` (> 0) keeps ``t1``
    finite when length alone separates wins from losses. None when nothing was judged."""
    if l2 <= 0:
        raise ValueError("l2 must be > 0")
    y = outcome_scores(outcomes)
    diff = np.asarray(len_b, dtype=float) - np.asarray(len_a, dtype=float)
    if diff.shape != y.shape:
        raise ValueError(f"{y.size} outcomes but {diff.size} length differences")
    judged = ~np.isnan(y)
    if not judged.any():
        return None
    y, diff = y[judged], diff[judged]
    spread = diff.std()
    x = np.tanh(diff / spread) if spread > 0 else np.zeros_like(diff)
    intercept = _fit_logistic(x, y, l2)[0]
    return float(_sigmoid(intercept))


def win_rate(
    outcomes: Sequence[str],
    *,
    verdicts_ab: Sequence[str | None] | None = None,
    verdicts_ba: Sequence[str | None] | None = None,
    len_a: Sequence[float] | None = None,
    len_b: Sequence[float] | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    lc_l2: float = 1.0,
) -> WinRateResult:
    """Counts, win-rate (ties half), bootstrap CI, and, when given the inputs for them,
    position consistency and the length-controlled win-rate. With fewer than
    :data:`MIN_JUDGED` parseable verdicts (pairs) the CI (consistency) is left out and
    ``note`` says why."""
    scores = outcome_scores(outcomes)
    judged = scores[~np.isnan(scores)]
    counts = {label: sum(o == label for o in outcomes) for label in (*OUTCOME_SCORES, UNPARSEABLE)}
    notes = []
    low = high = math.nan
    if judged.size >= MIN_JUDGED:
        low, high = bootstrap_ci(judged, n_resamples=n_resamples, confidence=confidence, seed=seed)
    else:
        notes.append(f"CI not meaningful: {judged.size} parseable verdict(s), fewer than {MIN_JUDGED}")
    consistency, pairs = None, 0
    if verdicts_ab is not None and verdicts_ba is not None:
        pairs = len(_both_orders(verdicts_ab, verdicts_ba))
        if pairs >= MIN_JUDGED:
            consistency = position_consistency(verdicts_ab, verdicts_ba)
        else:
            notes.append(f"position consistency not meaningful: {pairs} pair(s) parsed in both orders")
    lc = None
    if len_a is not None and len_b is not None:
        lc = length_controlled_win_rate(outcomes, len_a, len_b, l2=lc_l2)
    signature = (f"winrate|ties:half|ci:percentile-{confidence:g}|boot:{n_resamples}|seed:{seed}"
                 f"|lc:logit-tanh-std-l2={lc_l2:g}")
    return WinRateResult(
        wins=counts["win"],
        ties=counts["tie"],
        losses=counts["loss"],
        unparseable=counts[UNPARSEABLE],
        win_rate=float(judged.mean()) if judged.size else math.nan,
        ci_low=low,
        ci_high=high,
        position_consistency=consistency,
        lc_win_rate=lc,
        signature=signature,
        consistency_pairs=pairs,
        note="; ".join(notes) or None,
    )
