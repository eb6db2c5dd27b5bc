"""Win-rate statistics and judge agreement, against hand-computed values and scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import cohen_kappa_score

from dataforge.synth.judge import combine_orders
from evalkit.agreement import cohen_kappa
from evalkit.winrate import bootstrap_ci, length_controlled_win_rate, position_consistency, win_rate


def outcome_of(verdict_ab: str, verdict_ba: str) -> str:
    winner, _ = combine_orders(verdict_ab, verdict_ba)
    return {"B": "win", "A": "loss", "tie": "tie"}.get(winner, "unparseable")


def test_counts_and_win_rate_from_swapped_verdicts():
    verdicts_ab = ["B", "B", "A", "A", "tie", "B", "unparseable"]
    verdicts_ba = ["B", "A", "A", "B", "tie", "B", "B"]
    outcomes = [outcome_of(x, y) for x, y in zip(verdicts_ab, verdicts_ba)]
    assert outcomes == ["win", "tie", "loss", "tie", "tie", "win", "unparseable"]
    r = win_rate(outcomes, verdicts_ab=verdicts_ab, verdicts_ba=verdicts_ba)
    assert (r.wins, r.ties, r.losses, r.unparseable, r.judged) == (2, 3, 1, 1, 6)
    assert r.win_rate == pytest.approx((2 + 3 / 2) / 6)
    # pairs parsed in both orders: 6; agreeing: B/B, A/A, tie/tie, B/B
    assert r.position_consistency == pytest.approx(4 / 6)
    assert r.lc_win_rate is None
    assert r.signature.startswith("winrate|ties:half|ci:percentile-0.95|boot:1000|seed:0")


def test_edge_cases():
    assert win_rate(["tie"] * 3).win_rate == 0.5
    empty = win_rate(["unparseable"], len_a=[1], len_b=[2])
    assert math.isnan(empty.win_rate) and empty.lc_win_rate is None and math.isnan(empty.ci_low)
    assert position_consistency(["A", None], ["unparseable", None]) is None
    # a clean sweep stays a clean sweep after length control (no overflow at the boundary)
    assert win_rate(["loss"] * 4, len_a=[1, 2, 3, 4], len_b=[3] * 4).lc_win_rate == pytest.approx(0.0, abs=1e-6)
    assert win_rate(["win"] * 4, len_a=[1, 2, 3, 4], len_b=[3] * 4).lc_win_rate == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="draw"):
        win_rate(["win", "draw"])


def test_bootstrap_ci_is_seeded_covers_the_estimate_and_matches_the_normal_approximation():
    rng = np.random.default_rng(1)
    outcomes = list(rng.choice(["win", "loss", "tie"], size=400, p=[0.5, 0.3, 0.2]))
    r = win_rate(outcomes, n_resamples=2000, seed=7)
    assert r.ci_low < r.win_rate < r.ci_high
    again = win_rate(outcomes, n_resamples=2000, seed=7)
    assert (again.ci_low, again.ci_high) == (r.ci_low, r.ci_high)
    scores = np.array([{"win": 1.0, "tie": 0.5, "loss": 0.0}[o] for o in outcomes])
    half_width = 1.96 * scores.std() / math.sqrt(len(scores))
    assert r.ci_low == pytest.approx(r.win_rate - half_width, abs=0.01)
    assert r.ci_high == pytest.approx(r.win_rate + half_width, abs=0.01)
    narrow = win_rate(outcomes, n_resamples=2000, seed=7, confidence=0.5)
    assert r.ci_low < narrow.ci_low < narrow.ci_high < r.ci_high
    assert bootstrap_ci([1.0, 1.0, 1.0]) == (1.0, 1.0)


def _lengths(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(20, 400, n).astype(float), rng.integers(20, 400, n).astype(float)


def test_lc_equals_raw_when_lengths_do_not_differ():
    rng = np.random.default_rng(2)
    outcomes = list(rng.choice(["win", "loss", "tie"], size=50))
    same = rng.integers(10, 100, 50)
    r = win_rate(outcomes, len_a=same, len_b=same)
    assert r.lc_win_rate == pytest.approx(r.win_rate, abs=1e-9)


def test_lc_discounts_wins_bought_with_length():
    rng = np.random.default_rng(3)
    gap = rng.integers(5, 200, 60).astype(float)
    longer = np.arange(60) < 42  # B is the longer answer in 70% of pairs
    len_a = np.full(60, 300.0)
    len_b = len_a + np.where(longer, gap, -gap)
    longer_wins = ["win" if x else "loss" for x in longer]
    r = win_rate(longer_wins, len_a=len_a, len_b=len_b)
    assert r.win_rate == pytest.approx(0.7)
    assert 0.5 < r.lc_win_rate < r.win_rate  # part of B's lead is only length
    shorter_wins = ["loss" if x else "win" for x in longer]
    r2 = win_rate(shorter_wins, len_a=len_a, len_b=len_b)
    assert r2.win_rate < r2.lc_win_rate < 0.5  # winning while shorter counts for more
    # the unit of length (characters, tokens) does not matter
    assert length_controlled_win_rate(longer_wins, len_a * 4, len_b * 4) == pytest.approx(r.lc_win_rate)


def test_lc_fit_equals_sklearn_on_duplicated_tie_rows():
    rng = np.random.default_rng(4)
    len_a, len_b = _lengths(80, 5)
    outcomes = list(rng.choice(["win", "loss", "tie"], size=80))
    diff = len_b - len_a
    x = np.tanh(diff / diff.std())
    rows, labels, weights = [], [], []
    for xi, o in zip(x, outcomes):
        for label, weight in ({"win": [(1, 1.0)], "loss": [(0, 1.0)], "tie": [(1, 0.5), (0, 0.5)]}[o]):
            rows.append([xi])
            labels.append(label)
            weights.append(weight)
    l2 = 2.0
    reference = LogisticRegression(C=1 / l2, tol=1e-12, max_iter=10_000).fit(rows, labels, sample_weight=weights)
    expected = 1 / (1 + math.exp(-reference.intercept_[0]))
    assert length_controlled_win_rate(outcomes, len_a, len_b, l2=l2) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_kappa_equals_sklearn(weights):
    rng = np.random.default_rng(6)
    human = rng.integers(1, 6, 200)
    judge = np.where(rng.random(200) < 0.6, human, rng.integers(1, 6, 200))
    assert cohen_kappa(human, judge, weights=weights) == pytest.approx(
        cohen_kappa_score(human, judge, weights=weights), abs=1e-12)


def test_kappa_on_verdict_labels_with_a_fixed_label_set():
    human = ["A", "B", "tie", "B", "A", "B", "B", "tie"]
    judge = ["A", "B", "B", "B", "tie", "A", "B", "tie"]
    labels = ["A", "tie", "B"]
    assert cohen_kappa(human, judge, labels=labels) == pytest.approx(
        cohen_kappa_score(human, judge, labels=labels), abs=1e-12)
    assert math.isnan(cohen_kappa(["A", "A"], ["A", "A"]))
    with pytest.raises(ValueError):
        cohen_kappa(["A"], ["A", "B"])
