"""Banded LSH over MinHash signatures, for whole shards, with memory across shards.

Same semantics as datasketch's ``MinHashLSH``: the signature is cut into ``bands`` slices
of ``rows`` values (``bands * rows <= num_perm``), and two documents are candidates when
any slice is equal. ``bands, rows`` come from :func:`recall_params` when candidates are
verified (the default), from datasketch's own optimizer (:func:`lsh_params`, what
``MinHashLSH(threshold, num_perm, weights)`` would use) when they are not. Instead of a Python dict per
band, each slice becomes one 64-bit key (a random linear combination of its values,
finished with :func:`~dataforge.text.fmix64`, salted per band) and candidates are found by
grouping equal keys with polars. A false key collision needs two different slices to agree
on 64 bits (about 2^-64 per pair); verification removes any that slip through anyway.

Candidates are verified by the exact Jaccard of their shingle sets (:mod:`.jaccard`), as
NeMo Curator and text-dedup do. Near duplicates form clusters: the connected components
of the verified candidate graph (as in datatrove, NeMo Curator, text-dedup).
:class:`NearDupIndex` keeps, across shards, every band key seen so far, so a later shard's
records join clusters of earlier shards; an earlier shard's kept record stays kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np
import polars as pl
from datasketch import MinHashLSH
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..errors import ConfigError
from ..text import fmix64
from .jaccard import ShingleRuns, jaccard
from .store import ShingleStore

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


@lru_cache(maxsize=64)
def recall_params(threshold: float, num_perm: int, target: float = 0.99) -> tuple[int, int]:
    """(bands, rows) for verified near-dedup: the most rows per band (the fewest
    candidates to verify) with which a pair at exactly ``threshold`` still becomes a
    candidate with probability >= ``target``; pairs above it, more often.

    datasketch's optimizer balances false positives against false negatives because it
    does not verify: at 0.8 and 128 permutations it picks 9 x 13, which makes a pair at
    Jaccard 0.8 a candidate only 40% of the time. Verification removes false positives,
    so only recall is left to choose for: 21 x 6 gives 0.998 there.
    """
    best = (num_perm, 1)
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        if 1.0 - (1.0 - threshold**rows) ** bands >= target:
            best = (bands, rows)
    return best


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
        raise ConfigError(f"bands * rows = {bands * rows} exceeds num_perm {num_perm}")
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


def window_pairs(long: pl.DataFrame, window: int, node: str = "row") -> pl.DataFrame:
    """Candidate pairs of banded rows ``(node, key)``: in each bucket (rows sharing a band
    key), in ``node`` order, every row with each of the next ``window`` members, as
    ``(node, other)``, each pair once. A bucket of m rows costs at most ``m * window``
    checks, and small buckets are paired completely."""
    shared = long.filter(pl.len().over("key") > 1).sort("key", node)
    pairs = [
        shared.select(node, pl.col(node).shift(-w).alias("other"), (pl.col("key").shift(-w) == pl.col("key")).alias("same"))
        .filter(pl.col("same")).select(node, "other")
        for w in range(1, window + 1)
    ]
    return pl.concat(pairs).unique() if pairs else pl.DataFrame(schema={node: pl.Int64, "other": pl.Int64})


def verified_jaccard(
    estimate: np.ndarray, exact: Callable[[np.ndarray], np.ndarray], threshold: float, num_perm: int
) -> np.ndarray:
    """Jaccard of candidate pairs: exact, except where the signatures leave no doubt.

    A pair whose signatures agree on at least threshold + 5 standard deviations of the
    estimate (or at most threshold - 5) is linked (or dropped) without the exact check:
    the estimate is a binomial share over ``num_perm`` values, so such a call is wrong
    with probability below 3e-7. Exact copies, the most common duplicates, never pay
    for the exact check; the pairs near the threshold always do. ``exact(todo)`` computes
    the exact Jaccard of pairs ``todo``.
    """
    margin = 5.0 * np.sqrt(threshold * (1.0 - threshold) / num_perm)
    out = estimate.copy()
    todo = np.flatnonzero(np.abs(estimate - threshold) < margin)
    out[todo] = exact(todo)
    return out


def estimated_jaccard(left: np.ndarray, li: np.ndarray, right: np.ndarray, ri: np.ndarray) -> np.ndarray:
    """Share of equal signature values of pairs ``(left[li[k]], right[ri[k]])`` (MinHash.jaccard)."""
    out = np.empty(len(li), np.float64)
    for lo in range(0, len(li), _EDGE_BLOCK):
        hi = lo + _EDGE_BLOCK
        out[lo:hi] = (left[li[lo:hi]] == right[ri[lo:hi]]).mean(axis=1)
    return out


def _ragged(starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(which range, index) for every index of the ranges ``[starts[i], starts[i] + counts[i])``."""
    which = np.repeat(np.arange(len(counts)), counts)
    offset = np.arange(len(which)) - np.repeat(np.cumsum(counts) - counts, counts)
    return which, np.repeat(starts, counts) + offset


class BandIndex:
    """Band key -> the last ``depth`` records that had it, as two numpy arrays sorted by
    key, then by record (the records' ids grow with input order).

    12 bytes an entry and no hash table: looking up a shard's keys is a ``searchsorted``,
    so the memory a lookup needs does not grow with the index (a polars join over the
    whole index built a hash table of it for every shard). Adding a shard's entries is a
    delete and an insert into the sorted arrays.
    """

    def __init__(self, depth: int) -> None:
        self.depth = depth
        self.keys = np.zeros(0, np.uint64)
        self.owners = np.zeros(0, np.int32)

    def __len__(self) -> int:
        return len(self.keys)

    def lookup(self, keys: np.ndarray, last: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(position in ``keys``, owner) of every entry with one of ``keys``; with ``last``,
        only the newest ``last[i]`` entries of ``keys[i]``."""
        lo = np.searchsorted(self.keys, keys, side="left")
        hi = np.searchsorted(self.keys, keys, side="right")
        if last is not None:
            lo = np.maximum(lo, hi - np.maximum(last, 0))
        which, at = _ragged(lo, hi - lo)
        return which, self.owners[at]

    def add(self, keys: np.ndarray, owners: np.ndarray) -> None:
        """Add entries whose owners are newer than every entry in the index (at most
        ``depth`` per key), dropping each key's oldest entries beyond ``depth``."""
        order = np.lexsort((owners, keys))
        keys, owners = keys[order], owners[order].astype(np.int32)
        fresh, added = np.unique(keys, return_counts=True)
        lo = np.searchsorted(self.keys, fresh, side="left")
        held = np.searchsorted(self.keys, fresh, side="right") - lo
        excess = np.clip(held + added - self.depth, 0, held)
        if excess.any():
            _, stale = _ragged(lo, excess)
            self.keys, self.owners = np.delete(self.keys, stale), np.delete(self.owners, stale)
        at = np.searchsorted(self.keys, keys, side="right")
        self.keys, self.owners = np.insert(self.keys, at, keys), np.insert(self.owners, at, owners)


@dataclass
class Assignment:
    """Per row of a shard: kept or not, the kept record it duplicates, and the link that
    put it in that cluster: the record it is most similar to (``partner``), their Jaccard
    (exact when verified, estimated from the signatures otherwise, NaN when unknown) and
    whether that record is in an earlier shard."""

    kept: np.ndarray
    duplicate_of: pl.Series
    partner: pl.Series
    similarity: np.ndarray
    earlier: np.ndarray
    stats: dict[str, int]


class NearDupIndex:
    """LSH buckets of all shards seen so far, and the clusters their records belong to.

    Candidates are the pairs of :func:`window_pairs` over the whole input in input order:
    each record of a bucket is paired with the :data:`WINDOW` members before it, so a
    bucket of m records costs at most ``m * WINDOW`` checks while small buckets are
    checked pair by pair. Streaming, the members before it are the shard's own (window
    pairs within the shard) and, for the rest of the window, the newest members of
    earlier shards: every band key keeps its last :data:`WINDOW` records (the *owners*)
    in a :class:`BandIndex`. These are exactly the pairs of one pass over the whole
    input, which the Ray executor makes. Every owner maps to its cluster, every cluster
    to its kept record. With ``verify_threshold`` set, a candidate pair is linked only
    when the exact Jaccard of its shingle sets reaches it (owners' shingles live in a
    :class:`~.store.ShingleStore`, on disk).

    Streaming differs from one pass only where a later record links two clusters that
    earlier shards already kept apart: both stay kept (docs/scale.md).

    Memory: 12 bytes per index entry (per band key, up to :data:`WINDOW` records), plus
    per owner its id and cluster, plus per cluster its kept id.
    """

    #: Bucket members each record is paired with (the next ones in row order).
    WINDOW = 8

    def __init__(self, num_perm: int, bands: int, rows: int, verify_threshold: float | None = None) -> None:
        if bands * rows > num_perm:
            raise ConfigError(f"bands * rows = {bands * rows} exceeds num_perm {num_perm}")
        self.num_perm, self.bands, self.rows = num_perm, bands, rows
        self.verify_threshold = verify_threshold
        self._buckets = BandIndex(self.WINDOW)
        self._owner_cluster = np.zeros(0, np.int64)
        self._owner_ids = pl.Series("id", [], dtype=pl.String)
        self._kept_ids = pl.Series("id", [], dtype=pl.String)
        self._store = ShingleStore() if verify_threshold is not None else None

    @property
    def n_kept(self) -> int:
        """Clusters seen so far (each is represented by one kept record)."""
        return self._kept_ids.len()

    def assign(
        self, sig: np.ndarray, ids: pl.Series, active: np.ndarray, priority: np.ndarray,
        runs: ShingleRuns | None = None,
    ) -> Assignment:
        """Cluster one shard against everything seen before, then remember it.

        ``active`` marks rows that take part (rows with no shingles are always kept);
        within a new cluster the row with the lowest ``priority`` survives; a cluster that
        reaches an earlier shard keeps that shard's record. ``runs`` (the shard's shingles)
        is required when verifying.
        """
        n = sig.shape[0]
        ids = ids.cast(pl.String)
        if n == 0:
            none = pl.Series([], dtype=pl.String)
            return Assignment(np.zeros(0, bool), none, none, np.zeros(0), np.zeros(0, bool), {})
        if self._store is not None and runs is None:
            raise ValueError("verifying needs the shard's shingle runs")
        keys = band_keys(sig, self.bands, self.rows)
        rows = np.flatnonzero(active)
        long = pl.DataFrame({"row": np.repeat(rows, self.bands).astype(np.int64), "key": keys[rows].ravel()})
        # bucket members before / after each entry in the shard, in row order
        long = long.with_columns(before=pl.col("row").rank("ordinal").over("key").cast(pl.Int64) - 1)
        long = long.with_columns(after=pl.len().over("key").cast(pl.Int64) - 1 - pl.col("before"))
        (lu, lv, lj), (cu, co, cj), stats = self._edges(sig, long, runs)

        # Graph nodes: the shard's rows, then the earlier clusters it touches.
        prior, prior_node = np.unique(self._owner_cluster[co], return_inverse=True)
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

        # Cluster of every component: earlier ones keep theirs, new ones get the next.
        new_kept = np.flatnonzero(kept & active)
        cluster_of_node = np.full(n_nodes, -1, np.int64)
        cluster_of_node[n:] = prior
        cluster_of_node[new_kept] = self.n_kept + np.arange(len(new_kept))
        cluster = cluster_of_node[survivor]
        self._kept_ids = pl.concat([self._kept_ids, ids.gather(new_kept)])

        dup = ~kept
        partner, similarity, earlier = self._links(
            n, dup, ids, (lu, lv, lj), (cu, co, cj)
        )
        self._remember(long, ids, cluster, runs)
        duplicate_of = pl.repeat(None, n, dtype=pl.String, eager=True).scatter(
            np.flatnonzero(dup), self._kept_ids.gather(cluster[dup])
        )
        stats.update(
            clusters_with_duplicates=int(len(np.unique(cluster[dup]))),
            duplicates_of_earlier_shards=int((dup & (survivor >= n)).sum()),
        )
        return Assignment(kept, duplicate_of, partner, similarity, earlier, stats)

    def _edges(self, sig: np.ndarray, long: pl.DataFrame, runs: ShingleRuns | None) -> tuple[tuple, tuple, dict[str, int]]:
        """Candidate edges with their Jaccard: within the shard (row, row) and to earlier
        owners (row, owner), each row with the owners that complete its window of earlier
        bucket members; only those reaching the threshold when verifying."""
        local = window_pairs(long, self.WINDOW)
        keys, rows = long["key"].to_numpy(), long["row"].to_numpy()
        hit, owner = self._buckets.lookup(keys, last=self.WINDOW - long["before"].to_numpy())
        cross = pl.DataFrame({"row": rows[hit], "owner": owner}).unique()
        stats = {"candidate_edges": local.height + cross.height}
        lu, lv = local["row"].to_numpy(), local["other"].to_numpy()
        cu, co = cross["row"].to_numpy(), cross["owner"].to_numpy().astype(np.int64)
        if self._store is None:  # estimated from the signatures; unknown across shards
            return (lu, lv, estimated_jaccard(sig, lu, sig, lv)), (cu, co, np.full(len(cu), np.nan)), stats
        assert runs is not None
        lj = verified_jaccard(estimated_jaccard(sig, lu, sig, lv), lambda todo: jaccard(runs, lu[todo], lv[todo]),
                              self.verify_threshold, self.num_perm)
        owners, owner_pos = np.unique(co, return_inverse=True)
        both = ShingleRuns.concat([runs, self._store.get(owners)])
        cj = jaccard(both, cu, len(runs) + owner_pos)
        ok, cok = lj >= self.verify_threshold, cj >= self.verify_threshold
        stats["verified_edges"] = int(ok.sum() + cok.sum())
        return (lu[ok], lv[ok], lj[ok]), (cu[cok], co[cok], cj[cok]), stats

    def _links(self, n: int, dup: np.ndarray, ids: pl.Series, local: tuple, cross: tuple) -> tuple[pl.Series, np.ndarray, np.ndarray]:
        """For each duplicate row, its most similar linked record (ties: the first found)."""
        (lu, lv, lj), (cu, co, cj) = local, cross
        row = np.concatenate([lu, lv, cu])
        links = pl.DataFrame({
            "row": row,
            "sim": np.concatenate([lj, lj, cj]),
            "partner": pl.concat([ids.gather(lv), ids.gather(lu), self._owner_ids.gather(co)]),
            "earlier": np.concatenate([np.zeros(2 * len(lu), bool), np.ones(len(cu), bool)]),
        }).filter(pl.Series(dup[row]))
        best = links.sort("sim", descending=True, nulls_last=True, maintain_order=True).unique(
            "row", keep="first"
        )
        at = pl.DataFrame({"row": np.arange(n)}).join(best, on="row", how="left").sort("row")
        return (at["partner"], at["sim"].fill_null(np.nan).to_numpy(), at["earlier"].fill_null(False).to_numpy())

    def _remember(self, long: pl.DataFrame, ids: pl.Series, cluster: np.ndarray, runs: ShingleRuns | None) -> None:
        """The shard's last :data:`WINDOW` rows of each bucket join the index as owners."""
        keys, rows = long["key"].to_numpy(), long["row"].to_numpy()
        newest = long["after"].to_numpy() < self.WINDOW
        fresh_keys, fresh_rows = keys[newest], rows[newest]
        owner_rows = np.unique(fresh_rows)
        first_owner = len(self._owner_cluster)
        if self._store is not None:  # store ids and owner ids advance together
            assert runs is not None
            self._store.add(runs.take(owner_rows))
        global_id = np.full(len(ids), -1, np.int64)
        global_id[owner_rows] = first_owner + np.arange(len(owner_rows))
        self._owner_cluster = np.concatenate([self._owner_cluster, cluster[owner_rows]])
        self._owner_ids = pl.concat([self._owner_ids, ids.gather(owner_rows)])
        self._buckets.add(fresh_keys, global_id[fresh_rows])
