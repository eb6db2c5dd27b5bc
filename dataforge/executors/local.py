"""The local executor: a chain of ops over a stream of shards, in one process.

Why generators: each op wraps the stream of the op before it, so shard 1 passes through
the whole chain before shard 2 is read, and memory stays at about one shard plus what
stream-scope ops remember (the dedup indexes). A ``global``-scope op is the one place the
stream is materialized: it receives the concatenation of everything upstream, once.
Every op is set up before its first shard and closed when the stream ends.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Sequence

import polars as pl

from ..ops.base import Operator
from ..ops.specs import OpSpec, build_ops
from ..ops.stats import StatsBook, reader_stats
from ..schemas.record import conform, empty_table
from ..schemas.rejected import conform_rejected, empty_rejected
from .base import ChainResult, RejectSink


def _source_shards(source: Any, book: StatsBook, on_rejected: RejectSink) -> Iterator[pl.DataFrame]:
    """Canonical shards from a frame or lazy frame, several of them, or ``LoadResult``s
    (reader rejections kept)."""
    items = [source] if isinstance(source, (pl.DataFrame, pl.LazyFrame)) else source
    for item in items:
        if isinstance(item, pl.LazyFrame):
            item = item.collect()
        if isinstance(item, pl.DataFrame):
            yield conform(item)
            continue
        records, rejected = item.records, item.rejected
        stage = f"read:{item.format}"
        book.add(stage, reader_stats(stage, item))
        if rejected.height:
            on_rejected(0, stage, conform_rejected(rejected))
        yield conform(records)


def _run_op(
    position: int, op: Operator, shards: Iterator[pl.DataFrame], book: StatsBook,
    on_rejected: RejectSink,
) -> Iterator[pl.DataFrame]:
    key = f"{position}:{op.name}"

    def run(frame: pl.DataFrame) -> pl.DataFrame:
        result = op(frame)
        book.add(key, result.stats, op.report_once)
        if result.rejected.height:
            on_rejected(position, op.name, conform_rejected(result.rejected))
        return conform(result.kept)

    op.setup()
    try:
        if op.scope == "global":
            frames = [s for s in shards if s.height]
            yield run(pl.concat(frames, how="vertical") if frames else empty_table())
            return
        produced = False
        for shard in shards:
            if shard.height:
                produced = True
                yield run(shard)
        if not produced:  # still report the op (0 rows in) so every stage shows in the stats
            yield run(empty_table())
    finally:
        op.close()


def iter_apply(
    source: Any, ops: OpSpec | Sequence[OpSpec], on_rejected: RejectSink
) -> tuple[Iterator[pl.DataFrame], Callable[[], list[dict[str, Any]]]]:
    """Stream ``source`` through ``ops``; returns (kept shards, a stats getter).

    ``on_rejected(position, stage, rows)`` receives every rejected batch as it happens
    (position 0 = the reader, 1.. = the ops in order), so rejections stream too. Call the
    stats getter after the kept iterator is exhausted.
    """
    built = build_ops(ops)
    book = StatsBook()
    stream: Iterator[pl.DataFrame] = _source_shards(source, book, on_rejected)
    for position, op in enumerate(built, start=1):
        stream = _run_op(position, op, stream, book, on_rejected)
    return (s for s in stream if s.height), book.as_list


def apply(df_or_shards: Any, ops: OpSpec | Sequence[OpSpec]) -> ChainResult:
    """Run ``ops`` over a frame, frames, or ``LoadResult``s in this process; collect everything."""
    rejected: list[pl.DataFrame] = []
    kept_iter, stats = iter_apply(df_or_shards, ops, lambda _p, _s, rows: rejected.append(rows))
    kept = list(kept_iter)
    return ChainResult(
        kept=pl.concat(kept, how="vertical") if kept else empty_table(),
        rejected=pl.concat(rejected, how="vertical") if rejected else empty_rejected(),
        stats=stats(),
    )


__all__ = ["apply", "iter_apply"]
