"""The bootstrap statistics against their references (sacrebleu, plain numpy indexing)."""

from __future__ import annotations

import numpy as np
import pytest
from sacrebleu.metrics import BLEU

from evalkit.bootstrap import mean_statistic, resample_weights
from evalkit.metrics.bleu import bleu_from_sums


def test_resample_weights_are_index_counts() -> None:
    weights = resample_weights(7, 50, seed=3)
    idx = np.random.default_rng(3).integers(0, 7, size=(50, 7))
    assert weights.sum(axis=1).tolist() == [7.0] * 50
    values = np.arange(7, dtype=float) ** 2
    assert np.allclose(weights @ values / 7, values[idx].mean(axis=1))


def test_mean_statistic_skips_missing_values() -> None:
    values = np.array([1.0, np.nan, 3.0, 5.0])
    stat = mean_statistic(values)
    assert stat.full() == pytest.approx(3.0)
    weights = np.array([[2.0, 1.0, 0.0, 1.0]])
    assert stat(weights)[0] == pytest.approx((2 * 1.0 + 5.0) / 3)


@pytest.mark.parametrize("order", [2, 4, 5])
@pytest.mark.parametrize(("smooth", "value"), [("exp", None), ("floor", None), ("floor", 0.3), ("none", None),
                                               ("add-k", None), ("add-k", 2.0)])
def test_bleu_from_sums_matches_sacrebleu(smooth: str, value: float | None, order: int) -> None:
    rng = np.random.default_rng(0)
    rows = []
    for _ in range(200):
        total = np.sort(rng.integers(0, 12, size=order))[::-1]
        correct = np.minimum(total, rng.integers(0, 6, size=order))
        rows.append([rng.integers(0, 15), rng.integers(1, 15), *correct, *total])
    sums = np.array(rows, dtype=float)
    ours = bleu_from_sums(sums, order, smooth, value)
    ref = [BLEU.compute_bleu(list(r[2:2 + order]), list(r[2 + order:]), r[0], r[1], smooth_method=smooth,
                             smooth_value=value, max_ngram_order=order).score for r in rows]
    assert np.allclose(ours, ref, rtol=1e-9, atol=1e-9)
