"""Ops on Ray Data without a shuffle: batch-scope ops in ``map_batches``, and the one
place a chain leaves the cluster (stream/global ops without a distributed version).

Consecutive batch-scope ops run as one ``map_batches`` step, each batch through all of
them in one worker, as the local executor would run a shard. Each worker process sets
an op up once (presidio, tokenizers, eval n-grams) and keeps it for every batch it gets;
the ops travel as class + config (``Operator.__reduce__``).
"""

from __future__ import annotations

import atexit
from typing import Any, Sequence

import numpy as np
import polars as pl
import pyarrow as pa

from ..ops.base import Operator
from ..ops.stats import merge_stats
from ..schemas.record import conform, empty_table
from ..schemas.rejected import empty_rejected
from .ray_io import ORD, RunFolders, part_tag, to_block, write_rejected, write_stats

#: ops set up in this worker process, by class and config
_READY: dict[tuple[str, str], Operator] = {}


def _close_all() -> None:
    for op in _READY.values():
        op.close()
    _READY.clear()


def ready(op: Operator) -> Operator:
    """This process's set-up instance of ``op`` (set up on first use, closed at exit)."""
    key = (f"{type(op).__module__}.{type(op).__qualname__}", op.config.model_dump_json())
    found = _READY.get(key)
    if found is None:
        if not _READY:
            atexit.register(_close_all)
        op.setup()
        _READY[key] = found = op
    return found


def run_row_local(op: Operator, frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """Run a batch-scope op on rows carrying ``_ord``; kept rows get theirs back by id.

    A batch op is row-local and keeps ids, so when a batch repeats an id (identical
    records without ids share a content-hash id) it is run on id-unique slices and the
    result is the same as on the whole batch.
    """
    occurrence = frame.select(pl.int_range(pl.len()).over("id").alias("n"))["n"]
    slices = [frame] if occurrence.max() in (None, 0) else [
        frame.filter(occurrence == k) for k in range(int(occurrence.max()) + 1)
    ]
    kept, rejected, stats = [], [], {}
    for part in slices:
        result = op(part.drop(ORD))
        out = conform(result.kept)
        order = out.select("id").join(part.select("id", ORD), on="id", how="left", maintain_order="left")[ORD]
        if order.null_count():
            raise RuntimeError(f"op {op.name!r} has scope batch but changed record ids; it cannot run on Ray")
        kept.append(out.with_columns(order))
        rejected.append(result.rejected)
        merge_stats(stats, result.stats, op.report_once)
    return pl.concat(kept), pl.concat(rejected) if rejected else empty_rejected(), stats


def run_batch_ops(block: pa.Table, *, ops: Sequence[tuple[int, Operator]], folders: RunFolders) -> pa.Table:
    """A ``map_batches`` step: one batch through consecutive batch-scope ops."""
    frame = pl.from_arrow(block)
    if not frame.height:
        return block
    tag = part_tag(int(frame[ORD].min()))
    for position, op in ops:
        op = ready(op)
        frame, rejected, stats = run_row_local(op, frame)
        write_rejected(folders, position, op.name, tag, rejected)
        write_stats(folders, position, f"{position}:{op.name}", tag, stats, op.report_once)
        if not frame.height:
            break
    return to_block(frame.drop(ORD), frame[ORD])


def run_on_driver(ds: Any, position: int, op: Operator, folders: RunFolders, shard_rows: int) -> Any:
    """A stream/global op without a distributed version: every row comes to this process
    in input order and goes through one instance, exactly as the local executor runs it.
    Correct for any op, but bounded by this machine: documented as such."""
    import ray.data

    key = f"{position}:{op.name}"
    op = type(op)(op.config)  # a fresh instance, as a worker would get: the caller's keeps its state
    batches = (pl.from_arrow(b) for b in ds.sort(ORD).iter_batches(batch_format="pyarrow", batch_size=shard_rows))
    if op.scope == "global":
        frames = [b for b in batches if b.height]
        batches = iter([pl.concat(frames) if frames else empty_table().with_columns(pl.lit(0).alias(ORD))])
    kept, produced = [], 0
    op.setup()
    try:
        for frame in batches:
            tag = part_tag(int(frame[ORD].min()) if frame.height else 0)
            result = op(frame.drop(ORD))
            write_rejected(folders, position, op.name, tag, result.rejected)
            write_stats(folders, position, key, tag, result.stats, op.report_once)
            out = conform(result.kept)
            if out.height:  # a stream op's output order is the order downstream sees
                kept.append(to_block(out, produced + np.arange(out.height)))
                produced += out.height
    finally:
        op.close()
    return ray.data.from_arrow(kept or [to_block(empty_table(), np.zeros(0, np.int64))])


__all__ = ["ready", "run_batch_ops", "run_on_driver", "run_row_local"]
