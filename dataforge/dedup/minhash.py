"""MinHash signatures for a whole batch at once, bit-identical to datasketch 2.0's ``affine32``.

datasketch builds one ``MinHash`` object per document and feeds it shingles; that costs a
Python call per document (per shingle with ``update``). Here all shingles of a shard are
one uint32 array, so the scheme is three numpy steps over that array:

1. pre-mix each input hash with MurmurHash3's 32-bit finalizer (``_fmix`` in datasketch);
2. apply every permutation ``a_k * h + b_k mod 2^32`` as one broadcast (uint32 wraps);
3. take each document's minimum per permutation with ``np.minimum.reduceat`` over the
   document's run of shingles.

The permutation parameters come from ``datasketch.MinHash`` itself, so a signature here
equals ``datasketch.MinHash(num_perm, seed)`` updated with the same 32-bit input hashes
(``hashfunc`` returning them), value for value; ``tests/dataforge/ops/test_dedup.py`` checks it.
Documents without shingles get datasketch's empty signature (all ``2^32 - 1``).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from datasketch import MinHash

from ..text import Shingles

EMPTY = np.uint32(0xFFFFFFFF)

#: Shingles per numpy block: keeps the (num_perm x block) uint32 temporary (4 MB at 128
#: permutations) near the CPU caches; measured fastest among 2^12..2^16.
_BLOCK = 1 << 13


@lru_cache(maxsize=16)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 parameters ``(a, b)`` (uint32 arrays) for this num_perm and seed."""
    a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    return a.astype(np.uint32), b.astype(np.uint32)


def fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer, datasketch's pre-mix of every input hash."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def input_hashes(shingles: Shingles) -> np.ndarray:
    """The 32-bit values fed to MinHash: the top half of each 64-bit shingle hash."""
    return (shingles.hashes >> np.uint64(32)).astype(np.uint32)


def signatures(shingles: Shingles, num_perm: int = 128, seed: int = 1) -> np.ndarray:
    """(n_docs, num_perm) uint32 MinHash signatures of every document of a batch."""
    a, b = permutations(num_perm, seed)
    out = np.full((shingles.n_docs, num_perm), EMPTY, dtype=np.uint32)
    hv = fmix32(input_hashes(shingles))
    doc = shingles.doc
    for lo in range(0, len(hv), _BLOCK):
        hi = min(lo + _BLOCK, len(hv))
        d = doc[lo:hi]
        seg = np.flatnonzero(np.r_[True, d[1:] != d[:-1]])
        # (num_perm, block): reduceat along the contiguous last axis is ~7x faster than
        # along the first.
        phv = np.multiply.outer(a, hv[lo:hi])
        phv += b[:, None]
        part = np.minimum.reduceat(phv, seg, axis=1).T
        rows = d[seg]  # distinct within a block: a document's shingles are contiguous
        out[rows] = np.minimum(out[rows], part)
    return out
