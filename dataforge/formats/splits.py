"""Parallel reading: cut input files into independent splits, and load one split.

A distributed reader needs pieces of input that separate workers can read without
talking to each other, in an order that is still the input's order:

* **JSON Lines** (uncompressed) is cut into byte ranges of about ``target_bytes``. A
  split owns the lines that *start* inside its range (Hadoop's rule), so every line
  belongs to exactly one split wherever the cut falls. Line numbers (for the rejected
  table) need the number of lines before the split: :func:`count_newlines` counts a
  split's share (cheap next to parsing, and parallel), :func:`number_lines` adds them up.
* **Parquet** is cut at row-group boundaries; row numbers come from the footer.
* gzip'd files, JSON arrays and CSV are read whole, one split per file.

Every split is then converted by the same pipeline as ``iter_load`` (adapter, validity
checks, rejected rows with file and line). :func:`iter_load_split` also gives each shard an
*order base*: record ``k`` of a shard has order ``base + k``, and orders increase through
a file, so (file index, order) sorts records exactly as a sequential read would.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from ..errors import MissingFileError
from .api import SHARD_BYTES, SHARD_ROWS, LoadResult
from .base import get
from .readers.convert import StrictError, convert_shard, first_rejection_message
from .readers.detect import detect_sample
from .readers.jsonl import jsonl_shard
from .readers.sources import iter_shards, sample
from .readers.tabular import parquet_batches, typed_shard
from .readers.textio import file_kind, stream_errors

#: bytes of JSON Lines (or uncompressed Parquet) per split
TARGET_BYTES = 64 << 20
_READ = 8 << 20
_GLOB = set("*?[")


def expand_inputs(patterns: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Files named or matched by glob patterns (``corpus/*.jsonl``), in the order given
    (matches of one pattern sorted); a pattern that matches nothing is an error."""
    files: list[Path] = []
    for pattern in patterns:
        text = str(pattern)
        if Path(text).is_file() or not _GLOB & set(text):
            if not Path(text).is_file():
                raise MissingFileError(f"no such input file: {text}")
            files.append(Path(text))
            continue
        matches = sorted(p for p in glob.glob(text, recursive=True) if Path(p).is_file())
        if not matches:
            raise MissingFileError(f"no input file matches {text}")
        files.extend(Path(p) for p in matches)
    return files


@dataclass(frozen=True)
class FileSplit:
    """One independently readable piece of one input file."""

    path: str
    format: str  #: detected once for the whole file, so every split reads it the same way
    file_index: int  #: the file's position among the inputs (records sort by it first)
    kind: str  #: ``jsonl`` (a byte range), ``parquet`` (row groups) or ``whole``
    start: int = 0  #: jsonl: first byte; parquet: first row group
    stop: int = -1  #: jsonl: end byte (exclusive; -1 = end of file); parquet: end row group
    first_row: int = 1  #: number of the split's first line (jsonl) or row (parquet)
    source: str | None = None  #: value for the records' ``source`` (default: the file name)


def plan_splits(
    files: Sequence[Path], formats: Sequence[str | None] | None = None,
    sources: Sequence[str | None] | None = None, *, target_bytes: int = TARGET_BYTES,
) -> list[FileSplit]:
    """Splits of every file, in input order. JSON Lines splits after a file's first have
    ``first_row`` unknown (0) until :func:`number_lines` fills it in."""
    splits: list[FileSplit] = []
    for index, path in enumerate(files):
        fmt = (formats[index] if formats else None) or detect_sample(sample(path), str(path))
        base = FileSplit(str(path), fmt, index, "whole", source=sources[index] if sources else None)
        kind = file_kind(path)
        compressed = path.name.lower().endswith(".gz")
        if kind == "jsonl" and not compressed:
            size = path.stat().st_size
            cuts = list(range(0, size, target_bytes)) or [0]
            for i, start in enumerate(cuts):
                stop = cuts[i + 1] if i + 1 < len(cuts) else -1
                splits.append(replace(base, kind="jsonl", start=start, stop=stop, first_row=1 if i == 0 else 0))
        elif kind == "parquet" and not compressed:
            splits.extend(_parquet_splits(base, path, target_bytes))
        else:
            splits.append(base)
    return splits


def _parquet_splits(base: FileSplit, path: Path, target_bytes: int) -> list[FileSplit]:
    meta = pq.ParquetFile(path).metadata
    out, start, size, first_row, row = [], 0, 0, 1, 1
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        size += group.total_byte_size
        row += group.num_rows
        if size >= target_bytes or g == meta.num_row_groups - 1:
            out.append(replace(base, kind="parquet", start=start, stop=g + 1, first_row=first_row))
            start, size, first_row = g + 1, 0, row
    return out or [replace(base, kind="parquet", start=0, stop=0)]


def count_newlines(split: FileSplit) -> int:
    """Newlines of a JSON Lines split's share: bytes ``[start - 1, stop - 1)`` (or from 0)."""
    lo = max(split.start - 1, 0)
    hi = (os.path.getsize(split.path) if split.stop < 0 else split.stop) - 1
    count = 0
    with open(split.path, "rb") as f:
        f.seek(lo)
        left = max(hi - lo, 0)
        while left:
            chunk = f.read(min(_READ, left))
            if not chunk:
                break
            count += chunk.count(b"\n")
            left -= len(chunk)
    return count


def number_lines(splits: Sequence[FileSplit], newlines: Sequence[int]) -> list[FileSplit]:
    """Fill in ``first_row`` of JSON Lines splits from every split's newline count
    (``newlines[i]`` for ``splits[i]``; ignored for other kinds)."""
    out, before = [], 0
    for split, count in zip(splits, newlines):
        if split.kind != "jsonl":
            out.append(split)
            continue
        if split.start == 0:
            before = 0
        out.append(replace(split, first_row=1 if split.start == 0 else before + 2))
        before += count
    return out


def _jsonl_range(split: FileSplit) -> bytes:
    """The bytes of the lines starting in ``[start, stop)``, each ending in a newline."""
    with open(split.path, "rb") as f:
        if split.start > 0:
            f.seek(split.start - 1)
            head = b""
            while True:  # skip the line that started before the split
                chunk = f.read(_READ)
                if not chunk:
                    return b""
                cut = chunk.find(b"\n")
                if cut >= 0:
                    head = chunk[cut + 1:]
                    break
            position = f.tell() - len(head)
            if 0 <= split.stop <= position:  # the next line starts in the next split
                return b""
        else:
            head, position = b"", 0
        if split.stop < 0:
            data = head + f.read()
        else:
            parts, have = [head], position + len(head)
            if have < split.stop:
                parts.append(f.read(split.stop - have))
                have = split.stop
            data = b"".join(parts)
            # keep whole lines starting before `stop`: up to the first newline at or after stop - 1
            end = data.find(b"\n", max(split.stop - 1 - position, 0))
            while end < 0:
                chunk = f.read(_READ)
                if not chunk:
                    break
                data += chunk
                end = data.find(b"\n", max(split.stop - 1 - position, 0))
            if end >= 0:
                data = data[: end + 1]
    if split.start == 0:
        data = data.removeprefix(b"\xef\xbb\xbf")
    if data.strip() and not data.endswith(b"\n"):
        data += b"\n"
    return data if data.strip() else b""


def _jsonl_blocks(data: bytes, lines_per_block: int, max_bytes: int | None) -> Iterator[tuple[bytes, int]]:
    """Blocks of at most ``lines_per_block`` lines and about ``max_bytes`` bytes (at least
    one line), with the 0-based index of each block's first line."""
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    first, start = 0, 0
    while first < len(ends):
        last = min(first + lines_per_block, len(ends)) - 1
        if max_bytes is not None:
            last = max(first, min(last, int(np.searchsorted(ends, start + max_bytes, side="right")) - 1))
        yield data[start: int(ends[last]) + 1], first
        first, start = last + 1, int(ends[last]) + 1


def iter_load_split(
    split: FileSplit, *, strict: bool = False, shard_rows: int = SHARD_ROWS, shard_bytes: int | None = SHARD_BYTES,
) -> Iterator[tuple[int, LoadResult]]:
    """Convert one split shard by shard (``shard_rows`` rows, about ``shard_bytes`` bytes
    of input each, as ``iter_load``): ``(order base, LoadResult)`` per shard."""
    path = Path(split.path)
    fmt = get(split.format)
    with stream_errors(path):
        plan = fmt.plan(sample(path))
        if split.kind == "jsonl":
            raw = ((jsonl_shard(block, split.first_row + first, plan), split.first_row + first)
                   for block, first in _jsonl_blocks(_jsonl_range(split), shard_rows, shard_bytes))
        elif split.kind == "parquet":
            raw = _parquet_shards(path, split, plan, shard_rows, shard_bytes)
        else:
            raw = _whole_file_shards(path, plan, shard_rows, shard_bytes)
        for shard, base in raw:
            res = convert_shard(shard, fmt, plan, str(path), path.name)
            if strict and res.rejected.height:
                raise StrictError(first_rejection_message(res.rejected))
            records = res.records
            if split.source is not None:
                records = records.with_columns(pl.lit(split.source).alias("source"))
            yield base, LoadResult(records, res.rejected, split.format, {**res.stats, "variant": plan.variant})


def _parquet_shards(path: Path, split: FileSplit, plan, shard_rows: int, shard_bytes: int | None):  # type: ignore[no-untyped-def]
    groups = list(range(split.start, split.stop))
    if not groups:
        return
    row = split.first_row
    for batch in parquet_batches(path, shard_rows, shard_bytes, row_groups=groups):
        rows = list(range(row, row + batch.num_rows))
        yield typed_shard(pl.from_arrow(batch), rows, plan), row  # type: ignore[arg-type]
        row += batch.num_rows


def _whole_file_shards(path: Path, plan, shard_rows: int, shard_bytes: int | None):  # type: ignore[no-untyped-def]
    base = 1
    for shard in iter_shards(path, plan, shard_rows, shard_bytes):
        yield shard, base
        base += max(shard.rows_in, 1)


__all__ = ["FileSplit", "TARGET_BYTES", "count_newlines", "expand_inputs", "iter_load_split",
           "number_lines", "plan_splits"]
