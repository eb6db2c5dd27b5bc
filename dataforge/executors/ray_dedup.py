"""``dedup.exact`` and ``dedup.near`` on Ray Data: small keys shuffled, records not moved.

Both follow one pattern. The op's own per-record functions (key hashes; MinHash
signatures, band keys and survivor worth) run in ``map_batches`` and the result is
materialized (Ray keeps it in the object store, spilling to disk). Only small rows are
then shuffled by key (``repartition(keys=...)`` under the hash shuffle, which puts every
row of a key in one block, as Ray's own ``map_groups`` relies on); each block decides
with the op's own code. The decisions (the ``_ord`` of every duplicate and the id of the
record kept instead) come back to the driver, are broadcast through the object store,
and a last ``map_batches`` over the materialized rows splits kept from rejected.

* **exact**: rows ``(_h1, _h2, _ord, id)`` of records with key text, grouped by the
  128-bit key; in each group, in ``_ord`` order, the first is kept (the local executor's
  expression, :func:`dataforge.ops.dedup.first_of_each_key`).
* **near** (the banded-LSH shuffle of datatrove and NeMo Curator): rows
  ``(band key, _ord, id, worth)``, ``bands`` per record, grouped by band key; each bucket
  links its members to its smallest ``_ord`` (:func:`dataforge.dedup.lsh.star_edges`, as
  the local index does); with ``verify``, the candidate edges are joined with both
  records' signatures and kept only when the estimated Jaccard reaches the threshold
  (:func:`dataforge.dedup.lsh.estimated_jaccard`). The edges (16 bytes + two ids each, far
  fewer than records) come to the driver, which finds connected components with scipy,
  as the local index does, and keeps per cluster the record with the highest worth, ties
  to the smallest ``_ord``.

The whole input is one pass: kept ids equal the local executor's on one shard (the
local executor streaming many shards differs only when a later record bridges two
clusters it already kept; see docs/scale.md). Details of near duplicates name the
cluster instead of an estimated Jaccard (which would need a third shuffle).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import polars as pl
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..dedup.lsh import band_keys, estimated_jaccard, star_edges
from ..ops.base import Operator, OpResult
from ..ops.dedup import EXACT_KEY, ExactDedup, NearDedup, first_of_each_key
from ..schemas.record import COLUMNS
from .ray_io import ORD, RunFolders, part_tag, to_block, write_rejected, write_stats

@dataclass(frozen=True)
class ShufflePlan:
    """How keyed rows are grouped: ``partitions`` hash partitions across the cluster, or
    all on the driver when there are fewer than ``driver_rows`` of them."""

    partitions: int
    driver_rows: int = 2_000_000


#: the last stats file of a stage: what the driver measured (sorts after every batch's)
_DRIVER_TAG = "f" * 16


def _gather(ds: Any) -> pl.DataFrame:
    """A small dataset's rows on the driver."""
    import ray

    tables = [t for t in ray.get(ds.to_arrow_refs()) if t.num_rows]
    return pl.from_arrow(pa.concat_tables(tables)) if tables else pl.DataFrame()  # type: ignore[return-value]


def _grouped(rows: Any, n_rows: int, keys: list[str], decide: Callable[[pa.Table], pa.Table],
             shuffle: ShufflePlan) -> pl.DataFrame:
    """``decide`` on every group of ``keys``, results on the driver. Many rows are
    hash-partitioned by key across the cluster (each partition holds whole keys); below
    ``shuffle.driver_rows`` they come to the driver as one partition, which is much
    faster than a shuffle on a small job and decides the same way."""
    if n_rows < shuffle.driver_rows:
        table = _gather(rows)
        return pl.from_arrow(decide(table.to_arrow())) if table.height else pl.DataFrame()  # type: ignore[return-value]
    partitions = rows.repartition(shuffle.partitions, keys=keys)
    return _gather(partitions.map_batches(decide, batch_size=None, batch_format="pyarrow"))


def _decided(frame: pl.DataFrame, decisions_ref: list[Any], columns: list[str]) -> pl.DataFrame:
    """``frame`` with the broadcast decisions' ``columns`` (null where a row has none):
    a binary search of the rows' ``_ord`` in the decisions, sorted by ``_ord``."""
    import ray

    decisions = pl.from_arrow(ray.get(decisions_ref[0]))
    ords, mine = decisions[ORD].to_numpy(), frame[ORD].to_numpy()
    at = np.clip(np.searchsorted(ords, mine), 0, max(len(ords) - 1, 0))
    hit = np.flatnonzero(ords[at] == mine) if len(ords) else np.zeros(0, np.int64)
    return frame.with_columns(
        pl.repeat(None, frame.height, dtype=decisions.schema[c], eager=True).alias(c)
        .scatter(hit, decisions[c].gather(at[hit]))
        for c in columns
    )


def _finish(op: Operator, position: int, folders: RunFolders, frame: pl.DataFrame,
            result: OpResult, started: float) -> pa.Table:
    """Write a batch's rejected rows and stats; return its kept rows as a block."""
    tag = part_tag(int(frame[ORD].min()))
    result = op.checked(frame.height, result, time.perf_counter() - started)
    write_rejected(folders, position, op.name, tag, result.rejected)
    write_stats(folders, position, f"{position}:{op.name}", tag, result.stats, op.report_once)
    return to_block(result.kept.drop(ORD), result.kept[ORD])


def _driver_stats(folders: RunFolders, position: int, op: Operator, started: float, **stats: Any) -> None:
    write_stats(folders, position, f"{position}:{op.name}", _DRIVER_TAG,
                {"seconds": time.perf_counter() - started, **stats}, op.report_once)


def _broadcast(decisions: pl.DataFrame) -> list[Any]:
    import ray

    return [ray.put(decisions.sort(ORD).to_arrow())]


# -- exact -----------------------------------------------------------------------------------


def _with_exact_keys(block: pa.Table, *, op: ExactDedup) -> pa.Table:
    frame = pl.from_arrow(block)
    return pl.concat([frame, op.key_hashes(frame.drop(ORD))], how="horizontal").to_arrow()


def _exact_duplicates(block: pa.Table) -> pa.Table:
    """In one hash partition (whole keys): every row but the first of its key, in input order."""
    frame = pl.from_arrow(block).sort(ORD)
    return frame.select(ORD, first_of_each_key().alias("_dup")).filter(pl.col("_dup").is_not_null()).to_arrow()


def _apply_exact(block: pa.Table, *, op: ExactDedup, position: int, decisions: list[Any],
                 folders: RunFolders) -> pa.Table:
    started = time.perf_counter()
    frame = pl.from_arrow(block)
    if not frame.height:
        return to_block(frame.select(COLUMNS), frame[ORD])
    marked = _decided(frame, decisions, ["_dup"])
    result = op.reject_duplicates(
        marked, [*COLUMNS, ORD], earlier=pl.lit(False),
        stats={
            "skipped_no_text": int((~marked["_has"]).sum()),
            "duplicates_of_earlier_shards": 0,
            "new_keys": int((marked["_has"] & marked["_dup"].is_null()).sum()),
        },
    )
    return _finish(op, position, folders, frame, result, started)


def exact_dedup(ds: Any, position: int, op: ExactDedup, folders: RunFolders, shuffle: ShufflePlan) -> Any:
    started = time.perf_counter()
    keyed = ds.map_batches(_with_exact_keys, fn_kwargs={"op": op}, batch_format="pyarrow").materialize()
    keys = keyed.select_columns([*EXACT_KEY, ORD, "id", "_has"]).filter(expr="_has")
    decisions = _grouped(keys, keyed.count(), EXACT_KEY, _exact_duplicates, shuffle)
    if not decisions.height:
        decisions = pl.DataFrame(schema={ORD: pl.Int64, "_dup": pl.String})
    _driver_stats(folders, position, op, started)
    return keyed.map_batches(
        _apply_exact, batch_format="pyarrow",
        fn_kwargs={"op": op, "position": position, "decisions": _broadcast(decisions), "folders": folders},
    )


# -- near ------------------------------------------------------------------------------------


def _with_near_columns(block: pa.Table, *, op: NearDedup) -> pa.Table:
    """The op's per-record work: signatures -> band keys, survivor worth (+ signature to verify)."""
    frame = pl.from_arrow(block)
    records = frame.drop(ORD)
    sig, active = op.signatures(records)
    columns = [
        pl.Series("_active", active),
        pl.Series("_worth", op.worth(records), dtype=pl.Float64),
        _rows_of(band_keys(sig, op.bands, op.rows), "_bands"),
    ]
    if op.config.verify:
        columns.append(_rows_of(sig, "_sig"))
    return frame.with_columns(columns).to_arrow()


def _rows_of(matrix: np.ndarray, name: str) -> pl.Series:
    """A 2-D array as a fixed-size list column, one row per record."""
    return pl.Series(name, matrix.ravel()).reshape(matrix.shape).alias(name)


def _band_rows(block: pa.Table) -> pa.Table:
    """One row per band of every record that takes part: ``(key, _ord, id, _worth)``."""
    frame = pl.from_arrow(block).filter(pl.col("_active"))
    return frame.select(pl.col("_bands").alias("key"), ORD, "id", "_worth").explode("key").to_arrow()


def _bucket_edges(block: pa.Table) -> pa.Table:
    """In one hash partition (whole buckets): each bucket as a star on its smallest ``_ord``."""
    long = pl.from_arrow(block)
    edges = star_edges(long.select(ORD, "key"), node=ORD)
    ends = long.select(ORD, "id", "_worth").unique(ORD)
    return (
        edges.join(ends, on=ORD).rename({ORD: "u", "id": "u_id", "_worth": "u_worth"})
        .join(ends.rename({ORD: "pivot"}), on="pivot").rename({"pivot": "v", "id": "v_id", "_worth": "v_worth"})
        .to_arrow()
    )


def _jaccard_at_least(block: pa.Table, *, threshold: float) -> pa.Table:
    frame = pl.from_arrow(block)
    if not frame.height:
        return frame.drop("u_sig", "v_sig").to_arrow()
    u, v = frame["u_sig"].to_numpy(), frame["v_sig"].to_numpy()
    index = np.arange(frame.height)
    keep = estimated_jaccard(u, index, v, index) >= threshold
    return frame.drop("u_sig", "v_sig").filter(pl.Series(keep)).to_arrow()


def _signatures_of(block: pa.Table, *, nodes: list[Any]) -> pa.Table:
    """The signatures of the rows whose ``_ord`` is in the broadcast (sorted) node list."""
    import ray

    wanted = ray.get(nodes[0])
    frame = pl.from_arrow(block).select(ORD, "_sig")
    at = np.clip(np.searchsorted(wanted, frame[ORD].to_numpy()), 0, max(len(wanted) - 1, 0))
    return frame.filter(pl.Series(wanted[at] == frame[ORD].to_numpy())).to_arrow()


def _verified(candidates: pl.DataFrame, with_sig: Any, op: NearDedup, shuffle: ShufflePlan) -> pl.DataFrame:
    """Candidate edges whose records' signatures agree on at least ``threshold`` of values:
    the edges joined with both ends' signatures (across the cluster when there are many)."""
    import ray
    import ray.data

    check = {"fn_kwargs": {"threshold": op.config.threshold}, "batch_format": "pyarrow"}
    if with_sig.count() < shuffle.driver_rows:
        nodes = np.unique(np.concatenate([candidates["u"].to_numpy(), candidates["v"].to_numpy()]))
        sigs = _gather(with_sig.map_batches(_signatures_of, fn_kwargs={"nodes": [ray.put(nodes)]},
                                            batch_format="pyarrow"))
        joined = candidates.join(sigs.rename({ORD: "u", "_sig": "u_sig"}), on="u").join(
            sigs.rename({ORD: "v", "_sig": "v_sig"}), on="v")
        return pl.from_arrow(_jaccard_at_least(joined.to_arrow(), **check["fn_kwargs"]))  # type: ignore[return-value]
    sigs = with_sig.select_columns([ORD, "_sig"])
    edges = ray.data.from_arrow(candidates.to_arrow())
    joined = edges.join(sigs.rename_columns({ORD: "u", "_sig": "u_sig"}), "inner", shuffle.partitions, on=("u",))
    joined = joined.join(sigs.rename_columns({ORD: "v", "_sig": "v_sig"}), "inner", shuffle.partitions, on=("v",))
    return _gather(joined.map_batches(_jaccard_at_least, **check))


def clusters(edges: pl.DataFrame) -> pl.DataFrame:
    """Connected components of the candidate graph; per component the record with the
    highest worth (ties: smallest ``_ord``) is kept. Returns every other member:
    ``(_ord, _dup = the kept record's id, _size = the component's size, _kept = its _ord)``."""
    if not edges.height:
        return pl.DataFrame(schema={ORD: pl.Int64, "_dup": pl.String, "_size": pl.Int64, "_kept": pl.Int64})
    ends = pl.concat([
        edges.select(pl.col("u").alias(ORD), pl.col("u_id").alias("id"), pl.col("u_worth").alias("worth")),
        edges.select(pl.col("v").alias(ORD), pl.col("v_id").alias("id"), pl.col("v_worth").alias("worth")),
    ]).unique(ORD).sort(ORD)
    nodes = ends[ORD].to_numpy()
    u, v = np.searchsorted(nodes, edges["u"].to_numpy()), np.searchsorted(nodes, edges["v"].to_numpy())
    graph = coo_matrix((np.ones(len(u), np.int8), (u, v)), shape=(len(nodes), len(nodes)))
    _, label = connected_components(graph, directed=False)
    members = ends.with_columns(pl.Series("_label", label))
    survivors = (
        members.sort(["_label", "worth", ORD], descending=[False, True, False])
        .group_by("_label", maintain_order=True)
        .agg(pl.col("id").first().alias("_dup"), pl.col(ORD).first().alias("_kept"), pl.len().alias("_size"))
    )
    return (
        members.join(survivors, on="_label")
        .filter(pl.col(ORD) != pl.col("_kept"))
        .select(ORD, "_dup", pl.col("_size").cast(pl.Int64), pl.col("_kept").cast(pl.Int64))
    )


def _apply_near(block: pa.Table, *, op: NearDedup, position: int, decisions: list[Any],
                folders: RunFolders) -> pa.Table:
    started = time.perf_counter()
    frame = pl.from_arrow(block)
    if not frame.height:
        return to_block(frame.select(COLUMNS), frame[ORD])
    marked = _decided(frame, decisions, ["_dup", "_size"])
    result = op.split(
        marked, pl.col("_dup").is_not_null(), reason=op.reason,
        detail=pl.format("near duplicate of {} (LSH cluster of {} records)", pl.col("_dup"), pl.col("_size")),
        duplicate_of=pl.col("_dup"),
        stats={"skipped_no_text": int((~marked["_active"]).sum())},
    )
    result.kept = result.kept.select(*COLUMNS, ORD)
    return _finish(op, position, folders, frame, result, started)


def near_dedup(ds: Any, position: int, op: NearDedup, folders: RunFolders, shuffle: ShufflePlan) -> Any:
    started = time.perf_counter()
    with_sig = ds.map_batches(_with_near_columns, fn_kwargs={"op": op}, batch_format="pyarrow").materialize()
    bands = with_sig.select_columns([ORD, "id", "_worth", "_active", "_bands"]).map_batches(
        _band_rows, batch_format="pyarrow")
    candidates = _grouped(bands, with_sig.count() * op.bands, ["key"], _bucket_edges, shuffle)
    stats: dict[str, Any] = {"lsh": f"{op.bands} bands x {op.rows} rows"}
    if candidates.height:
        candidates = candidates.unique(["u", "v"])
    stats["candidate_edges"] = candidates.height
    if op.config.verify and candidates.height:
        candidates = _verified(candidates, with_sig, op, shuffle)
        stats["verified_edges"] = candidates.height
    elif op.config.verify:
        stats["verified_edges"] = 0
    decisions = clusters(candidates)
    stats["clusters_with_duplicates"] = decisions["_kept"].n_unique()
    stats["duplicates_of_earlier_shards"] = 0
    _driver_stats(folders, position, op, started, **stats)
    return with_sig.map_batches(
        _apply_near, batch_format="pyarrow",
        fn_kwargs={"op": op, "position": position, "decisions": _broadcast(decisions.drop("_kept")),
                   "folders": folders},
    )


#: the distributed versions of stream/global ops, by op class
DISTRIBUTED: dict[type[Operator], Callable[..., Any]] = {ExactDedup: exact_dedup, NearDedup: near_dedup}

__all__ = ["DISTRIBUTED", "clusters", "exact_dedup", "near_dedup"]
