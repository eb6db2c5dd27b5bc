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
* **near** (the banded-LSH shuffle of datatrove and NeMo Curator): rows ``(band key,
  _ord)``, 16 bytes, ``bands`` per record, grouped by band key; each bucket pairs every
  member with its next members in ``_ord`` order, exactly the local index's candidate
  pairs (:func:`dataforge.dedup.lsh.window_pairs`). The pairs' records are sketched
  again by the op (signature, shingles, id, worth) and joined to the pairs, which are
  linked when their Jaccard reaches the threshold, computed as the local index computes
  it (:func:`~dataforge.dedup.lsh.verified_jaccard`: exact near the threshold). The links
  come to the driver, which finds connected components with scipy and keeps per cluster
  the record with the highest worth, ties to the smallest ``_ord``, as the local index.

The whole input is one pass: kept ids equal the local executor's on one shard; the
local executor streaming many shards checks the same candidate pairs and differs only
when a later record bridges two clusters it already kept (docs/scale.md). Rejection
details name the same partner and Jaccard, except between equally similar partners.
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

from ..dedup.jaccard import ShingleRuns, jaccard
from ..dedup.lsh import NearDupIndex, band_keys, estimated_jaccard, verified_jaccard, window_pairs
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
    """The op's per-record work: band keys of the signatures, and survivor worth."""
    frame = pl.from_arrow(block)
    records = frame.drop(ORD)
    sig, active, _ = op.sketch(records)
    return frame.with_columns(
        pl.Series("_active", active),
        pl.Series("_worth", op.worth(records), dtype=pl.Float64),
        _rows_of(band_keys(sig, op.bands, op.rows), "_bands"),
    ).to_arrow()


def _rows_of(matrix: np.ndarray, name: str) -> pl.Series:
    """A 2-D array as a fixed-size list column, one row per record."""
    return pl.Series(name, matrix.ravel()).reshape(matrix.shape).alias(name)


def _band_rows(block: pa.Table) -> pa.Table:
    """One row per band of every record that takes part: ``(key, _ord)``, 16 bytes."""
    frame = pl.from_arrow(block).filter(pl.col("_active"))
    return frame.select(pl.col("_bands").alias("key"), ORD).explode("key").to_arrow()


def _bucket_pairs(block: pa.Table) -> pa.Table:
    """In one hash partition (whole buckets): the local index's candidate pairs."""
    pairs = window_pairs(pl.from_arrow(block), NearDupIndex.WINDOW, node=ORD)
    return pairs.rename({ORD: "u", "other": "v"}).to_arrow()


def _node_sketches(block: pa.Table, *, op: NearDedup, nodes: list[Any]) -> pa.Table:
    """For the records in the broadcast (sorted) node list: id, worth, signature and (to
    verify) shingles, computed again by the op: far fewer than all records, so nothing
    per record larger than its band keys is kept between the passes."""
    import ray

    wanted = ray.get(nodes[0])
    frame = pl.from_arrow(block)
    at = np.clip(np.searchsorted(wanted, frame[ORD].to_numpy()), 0, max(len(wanted) - 1, 0))
    frame = frame.filter(pl.Series(wanted[at] == frame[ORD].to_numpy()) if len(wanted) else pl.lit(False))
    records = frame.drop(ORD, "_active", "_worth", "_bands")
    sig, _, runs = op.sketch(records)
    columns = [frame[ORD], frame["id"], frame["_worth"], _rows_of(sig, "_sig")]
    if runs is not None:  # ShingleRuns is exactly a list column's offsets and values
        columns.append(pl.Series("_shingles", pa.LargeListArray.from_arrays(runs.offsets, runs.values)))
    return pl.DataFrame(columns).to_arrow()


def _runs_of(column: pl.Series) -> ShingleRuns:
    """A list column of shingle hashes as :class:`ShingleRuns`."""
    lists = column.to_arrow()
    offsets = np.asarray(lists.offsets, np.int64)
    return ShingleRuns(np.asarray(lists.flatten(), np.uint32), offsets - offsets[0])


def _linked(block: pa.Table, *, op: NearDedup) -> pa.Table:
    """Candidate pairs joined with both records' sketches: their Jaccard (exact near the
    threshold when verifying, as the local index decides), and only the links."""
    frame = pl.from_arrow(block)
    n = frame.height
    if not n:
        return pl.DataFrame(schema=_EDGE_SCHEMA).to_arrow()
    u, v, index = frame["u_sig"].to_numpy(), frame["v_sig"].to_numpy(), np.arange(n)
    sim = estimated_jaccard(u, index, v, index)
    if op.config.verify:
        runs = ShingleRuns.concat([_runs_of(frame["u_shingles"]), _runs_of(frame["v_shingles"])])
        sim = verified_jaccard(sim, lambda todo: jaccard(runs, todo, n + todo), op.config.threshold, op.config.num_perm)
        frame = frame.with_columns(pl.Series("sim", sim)).filter(pl.col("sim") >= op.config.threshold)
    else:
        frame = frame.with_columns(pl.Series("sim", sim))
    return frame.select(list(_EDGE_SCHEMA)).to_arrow()


_EDGE_SCHEMA = {"u": pl.Int64, "v": pl.Int64, "sim": pl.Float64, "u_id": pl.String, "v_id": pl.String,
                "u_worth": pl.Float64, "v_worth": pl.Float64}


def _links(pairs: pl.DataFrame, with_bands: Any, op: NearDedup, shuffle: ShufflePlan) -> pl.DataFrame:
    """The candidate pairs that link records, with their Jaccard and both ends' id and worth:
    the sketches of the pairs' records are joined to the pairs on the driver when there are
    few, across the cluster (two Ray joins) when there are many."""
    import ray
    import ray.data

    nodes = np.unique(np.concatenate([pairs["u"].to_numpy(), pairs["v"].to_numpy()]))
    sketches = with_bands.map_batches(_node_sketches, fn_kwargs={"op": op, "nodes": [ray.put(nodes)]},
                                      batch_format="pyarrow")

    def ends(side: str) -> dict[str, str]:
        return {ORD: side, "id": f"{side}_id", "_worth": f"{side}_worth", "_sig": f"{side}_sig",
                "_shingles": f"{side}_shingles"}

    if len(nodes) < shuffle.driver_rows // 20:  # a sketch is KBs, a key row 16 bytes
        table = _gather(sketches)
        joined = pairs.join(table.rename(ends("u"), strict=False), on="u").join(
            table.rename(ends("v"), strict=False), on="v")
        return pl.from_arrow(_linked(joined.to_arrow(), op=op))  # type: ignore[return-value]
    edges = ray.data.from_arrow(pairs.to_arrow())
    joined = edges.join(sketches.rename_columns({k: v for k, v in ends("u").items() if k != "_shingles"
                                                 or op.config.verify}), "inner", shuffle.partitions, on=("u",))
    joined = joined.join(sketches.rename_columns({k: v for k, v in ends("v").items() if k != "_shingles"
                                                  or op.config.verify}), "inner", shuffle.partitions, on=("v",))
    return _gather(joined.map_batches(_linked, fn_kwargs={"op": op}, batch_format="pyarrow"))


def clusters(edges: pl.DataFrame) -> pl.DataFrame:
    """Connected components of the linked pairs, as the local index forms them; per
    component the record with the highest worth (ties: smallest ``_ord``) is kept. Returns
    every other member: ``_ord``, ``_dup`` (the kept record's id), ``_partner`` / ``_sim``
    (its most similar linked record: the local detail) and ``_kept`` (the kept ``_ord``)."""
    schema = {ORD: pl.Int64, "_dup": pl.String, "_partner": pl.String, "_sim": pl.Float64, "_kept": pl.Int64}
    if not edges.height:
        return pl.DataFrame(schema=schema)
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
        .agg(pl.col("id").first().alias("_dup"), pl.col(ORD).first().alias("_kept"))
    )
    both_ways = pl.concat([
        edges.select(pl.col("u").alias(ORD), pl.col("v").alias("_other"), pl.col("v_id").alias("_partner"), "sim"),
        edges.select(pl.col("v").alias(ORD), pl.col("u").alias("_other"), pl.col("u_id").alias("_partner"), "sim"),
    ])
    best = both_ways.sort([ORD, "sim", "_other"], descending=[False, True, False]).unique(ORD, keep="first")
    return (
        members.join(survivors, on="_label")
        .filter(pl.col(ORD) != pl.col("_kept"))
        .join(best, on=ORD)
        .select(ORD, "_dup", "_partner", pl.col("sim").alias("_sim"), "_kept")
    )


def _apply_near(block: pa.Table, *, op: NearDedup, position: int, decisions: list[Any],
                folders: RunFolders) -> pa.Table:
    started = time.perf_counter()
    frame = pl.from_arrow(block)
    if not frame.height:
        return to_block(frame.select(COLUMNS), frame[ORD])
    marked = _decided(frame, decisions, ["_dup", "_partner", "_sim"]).with_columns(_earlier=pl.lit(False))
    result = op.reject_duplicates(marked, [*COLUMNS, ORD], stats={"skipped_no_text": int((~marked["_active"]).sum())})
    return _finish(op, position, folders, frame, result, started)


def near_dedup(ds: Any, position: int, op: NearDedup, folders: RunFolders, shuffle: ShufflePlan) -> Any:
    started = time.perf_counter()
    with_bands = ds.map_batches(_with_near_columns, fn_kwargs={"op": op}, batch_format="pyarrow").materialize()
    bands = with_bands.select_columns([ORD, "_active", "_bands"]).map_batches(_band_rows, batch_format="pyarrow")
    pairs = _grouped(bands, with_bands.count() * op.bands, ["key"], _bucket_pairs, shuffle)
    pairs = pairs.unique(["u", "v"]) if pairs.height else pl.DataFrame(schema={"u": pl.Int64, "v": pl.Int64})
    stats: dict[str, Any] = {"lsh": f"{op.bands} bands x {op.rows} rows", "candidate_edges": pairs.height}
    edges = _links(pairs, with_bands, op, shuffle) if pairs.height else pl.DataFrame(schema=_EDGE_SCHEMA)
    if op.config.verify:
        stats["verified_edges"] = edges.height
    decisions = clusters(edges)
    stats["clusters_with_duplicates"] = decisions["_kept"].n_unique()
    stats["duplicates_of_earlier_shards"] = 0
    _driver_stats(folders, position, op, started, **stats)
    return with_bands.map_batches(
        _apply_near, batch_format="pyarrow",
        fn_kwargs={"op": op, "position": position, "decisions": _broadcast(decisions.drop("_kept")),
                   "folders": folders},
    )


#: the distributed versions of stream/global ops, by op class
DISTRIBUTED: dict[type[Operator], Callable[..., Any]] = {ExactDedup: exact_dedup, NearDedup: near_dedup}

__all__ = ["DISTRIBUTED", "clusters", "exact_dedup", "near_dedup"]
