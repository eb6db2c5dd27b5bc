"""Exact Jaccard of shingle sets for candidate pairs: the check after LSH.

LSH finds pairs whose MinHash signatures agree on a whole band; the signature only
estimates Jaccard (±0.035 at 0.8 with 128 permutations), so a pair just above the threshold
is estimated below it about half the time, and one just below is estimated above it. NeMo
Curator and text-dedup therefore compute the exact Jaccard of the shingle sets of each
candidate pair; so does ``dedup.near``: bands are chosen for recall (almost every pair at
the threshold becomes a candidate) and this module decides.

Shingles are the 32-bit values MinHash consumes (:func:`~dataforge.dedup.minhash.input_hashes`),
so the Jaccard computed here is exactly the quantity the signatures estimate. Everything is
vectorized over all pairs: each record's shingles become a sorted, distinct run of
``(record << 32) | shingle`` keys, and the shingles of the smaller set of each pair are
looked up in the larger one's run with one ``searchsorted``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..text import Shingles
from .minhash import input_hashes

#: Looked-up shingles per numpy block: about 50 bytes of temporaries each (13 MB a block).
_BLOCK = 1 << 18


@dataclass(frozen=True)
class ShingleRuns:
    """The shingle hashes of some records, back to back: record ``i`` owns
    ``values[offsets[i]:offsets[i + 1]]`` (in any order, repeats allowed)."""

    values: np.ndarray  # uint32
    offsets: np.ndarray  # int64, length n + 1

    @classmethod
    def of(cls, shingles: Shingles) -> "ShingleRuns":
        """Every document of a shingled batch (its shingles are already contiguous)."""
        counts = shingles.counts()
        return cls(input_hashes(shingles), np.concatenate(([0], np.cumsum(counts))).astype(np.int64))

    @classmethod
    def concat(cls, parts: list["ShingleRuns"]) -> "ShingleRuns":
        parts = [p for p in parts if len(p)] or [cls.empty()]
        shifts = np.cumsum([0] + [len(p.values) for p in parts[:-1]])
        offsets = np.concatenate([[0]] + [p.offsets[1:] + s for p, s in zip(parts, shifts)])
        return cls(np.concatenate([p.values for p in parts]), offsets.astype(np.int64))

    @classmethod
    def empty(cls) -> "ShingleRuns":
        return cls(np.zeros(0, np.uint32), np.zeros(1, np.int64))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def sizes(self) -> np.ndarray:
        return np.diff(self.offsets)

    def take(self, idx: np.ndarray) -> "ShingleRuns":
        """The runs of records ``idx``, in that order."""
        idx = np.asarray(idx, np.int64)
        sizes = self.sizes()[idx]
        return ShingleRuns(self.values[_ranges(self.offsets[idx], sizes)],
                           np.concatenate(([0], np.cumsum(sizes))).astype(np.int64))


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(s, s + l)`` for every (s, l), without a Python loop."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    run_start = np.cumsum(lengths) - lengths
    return np.repeat(starts - run_start, lengths) + np.arange(total, dtype=np.int64)


def jaccard(runs: ShingleRuns, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact Jaccard of the shingle sets of records ``a[k]`` and ``b[k]`` of ``runs``.

    Two empty sets have Jaccard 0 here (records without text never take part anyway).
    """
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    out = np.zeros(len(a), np.float64)
    if len(a) == 0:
        return out
    nodes, inverse = np.unique(np.concatenate([a, b]), return_inverse=True)
    a_node, b_node = inverse[: len(a)], inverse[len(a):]
    sub = runs.take(nodes)
    keys = np.repeat(np.arange(len(nodes), dtype=np.uint64), sub.sizes())  # in place from here on
    keys <<= np.uint64(32)
    keys |= sub.values
    del sub
    keys.sort()  # then distinct: sorting is faster than np.unique
    if len(keys):
        distinct = np.empty(len(keys), bool)
        distinct[0] = True
        np.not_equal(keys[1:], keys[:-1], out=distinct[1:])
        keys = keys[distinct]
    owner = (keys >> np.uint64(32)).astype(np.int64)
    set_size = np.bincount(owner, minlength=len(nodes))
    set_start = np.concatenate(([0], np.cumsum(set_size)))[:-1]

    small = np.where(set_size[a_node] <= set_size[b_node], a_node, b_node)
    large = np.where(small == a_node, b_node, a_node)
    inter = np.zeros(len(a), np.float64)
    looked = np.cumsum(set_size[small])
    lo = 0
    while lo < len(a):  # blocks of about _BLOCK looked-up shingles
        done = int(looked[lo - 1]) if lo else 0
        hi = max(lo + 1, int(np.searchsorted(looked, done + _BLOCK, side="right")))
        s, l = small[lo:hi], large[lo:hi]
        counts = set_size[s]
        pair = np.repeat(np.arange(hi - lo), counts)
        shingle = keys[_ranges(set_start[s], counts)] & np.uint64(0xFFFFFFFF)
        wanted = (l[pair].astype(np.uint64) << np.uint64(32)) | shingle
        pos = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
        inter[lo:hi] = np.bincount(pair, weights=keys[pos] == wanted, minlength=hi - lo)
        lo = hi
    union = set_size[a_node] + set_size[b_node] - inter
    np.divide(inter, union, out=out, where=union > 0)
    return out
