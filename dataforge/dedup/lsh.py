"""Banded LSH over MinHash signatures, for whole shards, with memory across shards.

Same semantics as datasketch's ``MinHashLSH``: the signature is cut into ``bands`` slices
of ``rows`` values (``bands * rows <= num_perm``; ``bands, rows`` come from datasketch's own
optimizer, so they are the ones ``MinHashLSH(threshold, num_perm, weights)`` would use),
and two documents are candidates when any slice is equal. Instead of a Python dict per
band, each slice becomes one 64-bit key (a random linear combination of its values,
finished with :func:`~dataforge.text.fmix64`, salted per band) and candidates are found by
grouping equal keys with polars. A false key collision needs two different slices to agree
on 64 bits (about 2^-64 per pair); ``verify`` removes any that slip through anyway.

Near duplicates form clusters: the connected components of the candidate graph (as in
datatrove, NeMo Curator, text-dedup). :class:`NearDupIndex` keeps, across shards, every
band key seen so far mapped to the record kept for its cluster, so a later shard's
records join clusters of earlier shards; an earlier shard's kept record stays kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import polars as pl
from datasketch import MinHashLSH
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..text import fmix64

_EDGE_BLOCK = 1 << 15


@lru_cache(maxsize=64)
def lsh_params(threshold: float, num_perm: int, weights: tuple[float, float] = (0.5, 0.5)) -> tuple[int, int]:
    """(bands, rows) that datasketch's MinHashLSH picks for this threshold, num_perm, weights.

    datasketch minimizes the weighted false-positive/false-negative probability mass by
    grid search (``_optimal_param``); asking a ``MinHashLSH`` for its ``b, r`` reuses that
    exact code and its validation.
    """
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=weights)
    return int(lsh.b), int(lsh.r)


@lru_cache(maxsize=8)
def _band_constants(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0x5EED)
    coeff = rng.integers(0, 1 << 63, num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    salt = rng.integers(0, 1 << 63, num_perm, dtype=np.uint64)
    return coeff, salt


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(n, bands) uint64: one key per band slice of each signature (equal slice, equal key)."""
    n, num_perm = sig.shape
    if bands * rows > num_perm:
        raise ValueError(f"bands * rows = {bands * rows} exceeds num_perm {num_perm}")
    coeff, salt = _band_constants(num_perm)
    x = sig[:, : bands * rows].astype(np.uint64).reshape(n, bands, rows)
    with np.errstate(over="ignore"):
        mixed = (x * coeff[: bands * rows].reshape(bands, rows)).sum(axis=2, dtype=np.uint64)
        return fmix64(mixed + salt[:bands])


def candidate_pairs(keys: np.ndarray) -> pl.DataFrame:
    """All pairs ``(i, j)``, i < j, that share at least one band key: what querying
    datasketch's MinHashLSH with every document returns. A bucket of m documents yields
    m(m-1)/2 pairs, so this is for evaluation and small batches; dedup itself links each
    bucket as a star (m - 1 edges)."""
    n, b = keys.shape
    long = pl.DataFrame({"i": np.repeat(np.arange(n, dtype=np.int64), b), "key": keys.ravel()})
    return (
        long.join(long.rename({"i": "j"}), on="key")
        .filter(pl.col("i") < pl.col("j"))
        .select("i", "j")
        .unique()
        .sort("i", "j")
    )


def star_edges(long: pl.DataFrame, node: str = "row") -> pl.DataFrame:
    """Candidate edges of banded rows ``(node, key)``: each bucket (rows sharing a band key)
    as a star on its smallest node, ``(node, pivot)`` with node != pivot, each pair once.

    A bucket of m rows gives m - 1 edges, not m(m-1)/2 pairs, and the same connected
    components. ``node`` orders the rows (a row index, or the input order across files).
    """
    return (
        long.with_columns(pl.col(node).min().over("key").alias("pivot"))
        .filter(pl.col(node) != pl.col("pivot"))
        .select(node, "pivot")
        .unique()
    )


def estimated_jaccard(left: np.ndarray, li: np.ndarray, right: np.ndarray, ri: np.ndarray) -> np.ndarray:
    """Share of equal signature values of pairs ``(left[li[k]], right[ri[k]])`` (MinHash.jaccard)."""
    out = np.empty(len(li), np.float64)
    for lo in range(0, len(li), _EDGE_BLOCK):
        hi = lo + _EDGE_BLOCK
        out[lo:hi] = (left[li[lo:hi]] == right[ri[lo:hi]]).mean(axis=1)
    return out


@dataclass
class Assignment:
    """Per row of a shard: kept or not, the id it duplicates, and the estimated Jaccard with
    that record (NaN when it is in an earlier shard whose signatures were not kept)."""

    kept: np.ndarray
    duplicate_of: pl.Series
    similarity: np.ndarray
    stats: dict[str, int]


class NearDupIndex:
    """LSH buckets of all shards seen so far, each mapped to its cluster's kept record.

    Memory: 12 bytes per distinct band key (about ``bands`` per record) plus each kept
    record's id, plus its signature (4 * num_perm bytes) when ``verify`` needs it.
    """

    def __init__(self, num_perm: int, bands: int, rows: int, verify_threshold: float | None = None) -> None:
        if bands * rows > num_perm:
            raise ValueError(f"bands * rows = {bands * rows} exceeds num_perm {num_perm}")
        self.num_perm, self.bands, self.rows = num_perm, bands, rows
        self.verify_threshold = verify_threshold
        self._buckets = pl.DataFrame(schema={"key": pl.UInt64, "rep": pl.Int64})
        self._rep_ids = pl.Series("id", [], dtype=pl.String)
        self._rep_sigs: list[np.ndarray] = []

    @property
    def n_kept(self) -> int:
        """Clusters seen so far (each is represented by one kept record)."""
        return self._rep_ids.len()

    def assign(self, sig: np.ndarray, ids: pl.Series, active: np.ndarray, priority: np.ndarray) -> Assignment:
        """Cluster one shard against everything seen before, then remember it.

        ``active`` marks rows that take part (rows with no shingles are always kept);
        within a new cluster the row with the lowest ``priority`` survives; a cluster that
        reaches an earlier shard keeps that shard's record.
        """
        n = sig.shape[0]
        if n == 0:
            return Assignment(np.zeros(0, bool), pl.Series("duplicate_of", [], pl.String), np.zeros(0), {})
        keys = band_keys(sig, self.bands, self.rows)
        rows = np.flatnonzero(active)
        long = pl.DataFrame({"row": np.repeat(rows, self.bands).astype(np.int64), "key": keys[rows].ravel()})
        (lu, lv), (cu, crep), stats = self._edges(sig, long)

        # Graph nodes: the shard's rows, then the earlier clusters it touches.
        prior, prior_node = np.unique(crep, return_inverse=True)
        n_nodes = n + len(prior)
        u, v = np.concatenate([lu, cu]), np.concatenate([lv, n + prior_node])
        graph = coo_matrix((np.ones(len(u), np.int8), (u, v)), shape=(n_nodes, n_nodes))
        _, label = connected_components(graph, directed=False)
        # Survivor of each component: an earlier shard's record first (oldest), else the
        # row with the lowest priority.
        rank = np.concatenate([priority.astype(np.float64) + len(prior), np.arange(len(prior), dtype=np.float64)])
        order = np.lexsort((rank, label))
        head = np.r_[True, label[order][1:] != label[order][:-1]]
        survivor_of = np.empty(label.max() + 1, np.int64)
        survivor_of[label[order][head]] = order[head]
        survivor = survivor_of[label[:n]]
        kept = (survivor == np.arange(n)) | ~active

        # Rep index of every component: earlier ones keep theirs, new ones get the next.
        new_reps = np.flatnonzero(kept & active)
        rep_of_node = np.full(n_nodes, -1, np.int64)
        rep_of_node[n:] = prior
        rep_of_node[new_reps] = self.n_kept + np.arange(len(new_reps))
        comp_rep = rep_of_node[survivor]

        dup = ~kept
        sim = np.full(n, np.nan)
        local_dup = dup & (survivor < n)
        sim[local_dup] = estimated_jaccard(sig, np.flatnonzero(local_dup), sig, survivor[local_dup])
        prior_dup = dup & (survivor >= n)
        if self._rep_sigs and prior_dup.any():
            sim[prior_dup] = estimated_jaccard(sig, np.flatnonzero(prior_dup), self._signatures(), comp_rep[prior_dup])
        self._remember(sig[new_reps], ids.gather(new_reps).cast(pl.String), long, comp_rep)
        dup_of = pl.repeat(None, n, dtype=pl.String, eager=True).alias("duplicate_of").scatter(
            np.flatnonzero(dup), self._rep_ids.gather(comp_rep[dup])
        )
        stats.update(
            clusters_with_duplicates=int(len(np.unique(comp_rep[dup]))),
            duplicates_of_earlier_shards=int(prior_dup.sum()),
        )
        return Assignment(kept=kept, duplicate_of=dup_of, similarity=sim, stats=stats)

    def _edges(self, sig: np.ndarray, long: pl.DataFrame) -> tuple[tuple, tuple, dict[str, int]]:
        """Candidate edges: within the shard (each bucket as a star on its first row) and to
        earlier clusters (a shared band key), kept only if verified when ``verify`` is on."""
        local = star_edges(long)
        cross = long.join(self._buckets, on="key").select("row", "rep").unique()
        stats = {"candidate_edges": local.height + cross.height}
        lu, lv = local["row"].to_numpy(), local["pivot"].to_numpy()
        cu, crep = cross["row"].to_numpy(), cross["rep"].to_numpy()
        if self.verify_threshold is not None:
            ok = estimated_jaccard(sig, lu, sig, lv) >= self.verify_threshold
            lu, lv = lu[ok], lv[ok]
            ok = estimated_jaccard(sig, cu, self._signatures(), crep) >= self.verify_threshold
            cu, crep = cu[ok], crep[ok]
            stats["verified_edges"] = len(lu) + len(cu)
        return (lu, lv), (cu, crep), stats

    def _remember(self, new_sigs: np.ndarray, new_ids: pl.Series, long: pl.DataFrame, comp_rep: np.ndarray) -> None:
        """Add this shard's kept records and its unseen band keys (mapped to their cluster)."""
        self._rep_ids = pl.concat([self._rep_ids, new_ids])
        if self.verify_threshold is not None:
            self._rep_sigs.append(new_sigs)
        fresh = (
            long.with_columns(rep=comp_rep[long["row"].to_numpy()])
            .unique("key", keep="first", maintain_order=True)
            .join(self._buckets, on="key", how="anti")
        )
        self._buckets = pl.concat([self._buckets, fresh.select("key", "rep")])
        if self._buckets.n_chunks() > 32:  # many shards: keep joins on few chunks
            self._buckets = self._buckets.rechunk()

    def _signatures(self) -> np.ndarray:
        if len(self._rep_sigs) > 1:
            self._rep_sigs = [np.concatenate(self._rep_sigs)]
        if not self._rep_sigs:
            return np.empty((0, self.num_perm), np.uint32)
        return self._rep_sigs[0]
