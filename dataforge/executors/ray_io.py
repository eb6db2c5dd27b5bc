"""What flows between Ray tasks, and what they leave on disk.

**Rows.** Every block is canonical records plus ``_ord``, the record's place in the input
(file index in the top bits, then line or row order within the file: see
:mod:`dataforge.formats.splits`). Sorting by ``_ord`` gives the order a sequential reader
would see, which is what "the first record of a cluster" means for both executors.
Blocks are conformed to the canonical schema whenever a step produces them.

**Side outputs.** A task writes, itself, what is not a kept row: rejected rows as
Parquet parts into the rejected folder (``NN-<stage>.<part>.parquet``), and its per-op
stats as a small JSON file. Names are deterministic (the stage's position and the
smallest ``_ord`` of the batch), and every file is written under a hidden temporary name
and renamed, so a task that Ray retries after a worker died rewrites the same files with
the same content and nothing is counted twice. Folders must be reachable from every
node (a shared filesystem) when the cluster has more than one machine.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from ..formats.splits import FileSplit, iter_load_split
from ..ops.stats import StatsBook, reader_stats
from ..rejects import rejected_file_name
from ..schemas.record import conform, empty_table, to_arrow
from ..schemas.rejected import conform_rejected

ORD = "_ord"
#: ``_ord`` = file index << FILE_BITS | order within the file
FILE_BITS = 40
_PARTIAL = ".partial-"


@dataclass(frozen=True)
class RunFolders:
    """Where tasks write: each a temporary folder the driver puts in place (or removes)."""

    rejected: str
    stats: str
    kept: str | None = None  #: kept parts; None when kept rows go back to the driver


def part_tag(order: int) -> str:
    """A batch's name in file names: its smallest ``_ord``, sortable as text."""
    return f"{order:016x}"


def _write_atomic(path: str, write: Any) -> None:
    tmp = os.path.join(os.path.dirname(path), f"{_PARTIAL}{os.getpid()}-{uuid.uuid4().hex}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_partials(folder: str | Path) -> None:
    """Delete temporaries of writes that never finished (a worker killed mid-write)."""
    for item in Path(folder).glob(f"{_PARTIAL}*"):
        item.unlink(missing_ok=True)


def write_rejected(folders: RunFolders, position: int, stage: str, tag: str, rows: pl.DataFrame) -> None:
    if rows.height:
        table = conform_rejected(rows).to_arrow()
        path = os.path.join(folders.rejected, rejected_file_name(position, stage, tag))
        _write_atomic(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def write_stats(
    folders: RunFolders, position: int, key: str, tag: str, stats: Mapping[str, Any], once: Iterable[str] = ()
) -> None:
    """One batch's stats for chain stage ``key`` (merged by :func:`collect_stats`)."""
    text = json.dumps({"key": key, "once": sorted(once), "stats": stats}, ensure_ascii=False, default=str)
    path = os.path.join(folders.stats, f"{position:03d}.{tag}.json")

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)

    _write_atomic(path, write)


def collect_stats(folder: str | Path) -> tuple[StatsBook, set[int]]:
    """Every batch's stats merged per stage: reader stages first, then the ops in chain
    order, batches in input order; plus the positions that reported anything."""
    book, seen = StatsBook(), set()
    for path in sorted(Path(folder).glob("*.json")):
        entry = json.loads(path.read_text(encoding="utf-8"))
        book.add(entry["key"], entry["stats"], entry["once"])
        seen.add(int(path.name.split(".", 1)[0]))
    return book, seen


def write_kept(block: pa.Table, *, folder: str) -> pa.Table:
    """A ``map_batches`` step: write a batch's rows as one canonical Parquet part."""
    frame = pl.from_arrow(block)
    if not frame.height:
        return pa.table({"rows": pa.array([], pa.int64())})
    frame = frame.sort(ORD)
    table = to_arrow(frame.drop(ORD))
    path = os.path.join(folder, f"part-{part_tag(int(frame[ORD][0]))}.parquet")
    _write_atomic(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))
    return pa.table({"rows": pa.array([frame.height], pa.int64())})


def to_block(records: pl.DataFrame, order: pl.Series | np.ndarray) -> pa.Table:
    """Canonical records (schema enforced) + their ``_ord``, as a block."""
    return conform(records).with_columns(pl.Series(ORD, order, dtype=pl.Int64)).to_arrow()


# -- reading ---------------------------------------------------------------------------------


def _read_split(
    split: FileSplit, folders: RunFolders, strict: bool, shard_rows: int, shard_bytes: int
) -> Iterator[pa.Table]:
    stage = f"read:{split.format}"
    for base, res in iter_load_split(split, strict=strict, shard_rows=shard_rows, shard_bytes=shard_bytes):
        first = (split.file_index << FILE_BITS) + base
        tag = part_tag(first)
        write_rejected(folders, 0, stage, tag, res.rejected)
        write_stats(folders, 0, stage, tag, reader_stats(stage, res))
        if res.records.height:
            yield to_block(res.records, first + np.arange(res.records.height))


def read_splits(
    splits: Sequence[FileSplit], folders: RunFolders, *, strict: bool, shard_rows: int, shard_bytes: int
) -> Any:
    """A Ray Dataset reading every split in parallel (one read task per split)."""
    import ray.data
    from ray.data.block import BlockMetadata
    from ray.data.datasource import Datasource, ReadTask

    class SplitsDatasource(Datasource):
        """The input files, cut into splits, read by the same converter as ``iter_load``."""

        def estimate_inmemory_data_size(self) -> int:
            return sum(_split_bytes(s) for s in splits)

        def get_read_tasks(self, parallelism: int, per_task_row_limit: int | None = None,
                           data_context: Any = None) -> list[ReadTask]:
            return [
                ReadTask(
                    partial(_read_split, s, folders, strict, shard_rows, shard_bytes),
                    BlockMetadata(num_rows=None, size_bytes=_split_bytes(s), exec_stats=None,
                                  input_files=(s.path,)),
                )
                for s in splits
            ]

    return ray.data.read_datasource(SplitsDatasource(), override_num_blocks=max(len(splits), 1))


def _split_bytes(split: FileSplit) -> int:
    size = os.path.getsize(split.path)
    if split.kind == "jsonl":
        return (size if split.stop < 0 else split.stop) - split.start
    return size


def frames_dataset(items: Sequence[Any], folders: RunFolders) -> Any:
    """A Ray Dataset of in-memory frames or ``LoadResult``s (the Python API's input);
    reader rejections in ``LoadResult``s are written here, on the driver."""
    import ray.data

    blocks = []
    for index, item in enumerate(items):
        first = index << FILE_BITS
        if isinstance(item, pl.LazyFrame):
            item = item.collect()
        if not isinstance(item, pl.DataFrame):
            stage, tag = f"read:{item.format}", part_tag(first)
            write_rejected(folders, 0, stage, tag, item.rejected)
            write_stats(folders, 0, stage, tag, reader_stats(stage, item))
            item = item.records
        if item.height:
            blocks.append(to_block(item, first + np.arange(item.height)))
    if not blocks:
        blocks = [to_block(empty_table(), np.zeros(0, np.int64))]
    return ray.data.from_arrow(blocks)


__all__ = [
    "FILE_BITS", "ORD", "RunFolders", "collect_stats", "frames_dataset", "part_tag", "read_splits",
    "remove_partials", "to_block", "write_kept", "write_rejected", "write_stats",
]
