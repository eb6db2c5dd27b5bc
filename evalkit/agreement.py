"""Agreement between two raters, e.g. human labels vs an LLM judge on the same items.

Raw agreement flatters a judge when one label dominates; Cohen's kappa discounts the
agreement two raters would reach by chance given their label frequencies. Weighted kappa
(linear/quadratic) is for ordinal labels such as 1-10 rubric scores, where 7 vs 8 is a
smaller disagreement than 2 vs 9.
"""

from __future__ import annotations

import math
from typing import Hashable, Sequence

import numpy as np


def cohen_kappa(
    rater_a: Sequence[Hashable],
    rater_b: Sequence[Hashable],
    *,
    labels: Sequence[Hashable] | None = None,
    weights: str | None = None,
) -> float:
    """Cohen's kappa, ``1 - sum(W*O) / sum(W*E)`` over the confusion matrix O and the
    chance matrix E (outer product of the marginals), same definition as scikit-learn.

    ``labels`` fixes the label order (it matters for weighted kappa; default: sorted union).
    ``weights``: None (W = 1 off the diagonal), "linear" (|i-j|) or "quadratic" ((i-j)^2).
    NaN when chance agreement is total (both raters used one and the same label).
    """
    if len(rater_a) != len(rater_b):
        raise ValueError(f"raters labelled {len(rater_a)} and {len(rater_b)} items")
    order = list(labels) if labels is not None else sorted(set(rater_a) | set(rater_b))
    index = {label: i for i, label in enumerate(order)}
    k = len(order)
    confusion = np.zeros((k, k))
    pairs = [(index[x], index[y]) for x, y in zip(rater_a, rater_b) if x in index and y in index]
    if pairs:
        rows, cols = zip(*pairs)
        np.add.at(confusion, (list(rows), list(cols)), 1.0)
    expected = np.outer(confusion.sum(axis=1), confusion.sum(axis=0)) / max(confusion.sum(), 1.0)
    distance = np.abs(np.subtract.outer(np.arange(k), np.arange(k))).astype(float)
    if weights is None:
        weight = (distance > 0).astype(float)
    elif weights == "linear":
        weight = distance
    elif weights == "quadratic":
        weight = distance**2
    else:
        raise ValueError(f"weights must be None, 'linear' or 'quadratic', not {weights!r}")
    chance = float((weight * expected).sum())
    return 1.0 - float((weight * confusion).sum()) / chance if chance > 0 else math.nan
