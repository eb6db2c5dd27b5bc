"""The formats API: load any supported file as canonical records, write them back out.

.. code-block:: python

    from dataforge.formats.api import load, write
    res = load("data/sharegpt_tools.jsonl")           # format auto-detected
    res.records, res.rejected, res.stats               # canonical / rejected / counts
    write(res.records, "out/train.jsonl", "openai")     # any external format

Everything streams shard by shard (``iter_load``/``open_writer``): memory stays at one
shard whatever the file size. ``load``/``read`` concatenate the shards for convenience.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import polars as pl

from ..errors import MissingFileError
from ..schemas.record import empty_table
from ..schemas.rejected import empty_rejected
from .base import FormatError, get
from .readers.convert import StrictError, convert_shard, first_rejection_message
from .readers.detect import detect_sample
from .readers.sources import iter_shards, sample
from .readers.textio import stream_errors
from .writers.files import ShardWriter
from .writers.llamafactory import LlamaFactoryWriter
from .writers.trl import to_trl_dataset

__all__ = [
    "LoadResult", "FormatError", "StrictError", "count_rows", "ShardWriter", "detect_format", "iter_load", "load",
    "read", "read_warnings", "write", "write_warnings", "open_writer", "to_trl_dataset", "merge_stats",
]


@dataclass
class LoadResult:
    records: pl.DataFrame   # canonical schema (dataforge.schemas.conform)
    rejected: pl.DataFrame  # REJECTED_SCHEMA
    format: str
    stats: dict = field(default_factory=dict)


def detect_format(path: str | Path) -> str:
    """The format of a file, from the keys and value types of its first rows.

    Raises :class:`FormatError` naming the candidates when more than one format fits.
    """
    p = Path(path)
    with stream_errors(p):
        return detect_sample(sample(p), str(p))


#: Default shard bounds: whichever comes first. Memory follows the bytes of a shard (a
#: long multi-turn record can be 100x a short one), so the byte bound is the one that
#: keeps ``convert`` and ``apply`` within a few hundred MB on any file.
SHARD_ROWS = 50_000
SHARD_BYTES = 4 << 20


def iter_load(
    path: str | Path, format: str | None = None, *, strict: bool = False, shard_rows: int = SHARD_ROWS,
    shard_bytes: int | None = SHARD_BYTES,
) -> Iterator[LoadResult]:
    """Convert ``path`` shard by shard (bounded memory); one :class:`LoadResult` per shard.

    A shard holds at most ``shard_rows`` rows and about ``shard_bytes`` bytes of input
    (JSON Lines, JSON arrays, Parquet; None: no byte bound).

    ``strict=True`` raises :class:`StrictError` at the first rejected row, with the same
    located detail the rejected table would hold.
    """
    p = Path(path)
    if not p.exists():
        raise MissingFileError(f"{p}: no such file")
    if p.is_dir():
        raise FormatError(f"{p}: is a folder; give a data file")
    fmt = get(format) if format else None  # an unknown name fails before the file is read
    with stream_errors(p):
        smp = sample(p)
        name = format or detect_sample(smp, str(p))
        fmt = fmt or get(name)
        plan = fmt.plan(smp)
        for shard in iter_shards(p, plan, shard_rows, shard_bytes):
            res = convert_shard(shard, fmt, plan, str(p), p.name)
            if strict and res.rejected.height:
                raise StrictError(first_rejection_message(res.rejected))
            yield LoadResult(res.records, res.rejected, name, {**res.stats, "variant": plan.variant})


def count_rows(path: str | Path) -> int | None:
    """Rows in ``path`` when knowable cheaply (Parquet metadata; lines of plain JSONL, counted
    at disk speed), for progress bars with an ETA; None for other files."""
    p = Path(path)
    name = p.name.lower()
    if not p.is_file():
        return None
    if name.endswith(".parquet"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            return pq.ParquetFile(p).metadata.num_rows
        except pa.ArrowException:  # not Parquet after all: the reader refuses it by name
            return None
    if name.endswith((".jsonl", ".ndjson")):
        lines, last = 0, b"\n"
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 24), b""):
                lines += block.count(b"\n")
                last = block[-1:]
        return lines + (last != b"\n")
    return None


def merge_stats(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum per-shard stats into file stats."""
    reasons: Counter[str] = Counter()
    ignored: set[str] = set()
    unread: set[str] = set()
    for s in parts:
        reasons.update(s.get("reasons", {}))
        ignored.update(s.get("ignored_fields", []))
        unread.update(s.get("unread_fields", []))
    return {
        "rows_in": sum(s["rows_in"] for s in parts),
        "rows_out": sum(s["rows_out"] for s in parts),
        "rejected": sum(s["rejected"] for s in parts),
        "reasons": dict(reasons),
        "ignored_fields": sorted(ignored),
        "unread_fields": sorted(unread),
        "shards": len(parts),
        "variant": parts[0].get("variant", "") if parts else "",
    }


_LABEL_HINTS = {f: f" ({f} reads KTO labels from kto_tag)" for f in ("alpaca", "sharegpt")}


def read_warnings(stats: dict[str, Any], format: str) -> list[str]:
    """What a read could not keep, one sentence per field (``stats`` of :func:`load`,
    :func:`merge_stats` or one shard): nested keys the format has no field for (their
    values are not in the records), and keys named like a record field that the format
    does not read (their values are only in ``meta``)."""
    out = [
        f"{key}: the {format} format has no field for this nested key; its values are not in the records"
        for key in stats.get("ignored_fields", [])
    ]
    out += [
        f"{key}: the {format} format does not read this key; its values are kept in meta, not as the record's {key}"
        + (_LABEL_HINTS.get(format, " (--format kto reads messages + label, LLaMA-Factory's KTO layout)")
           if key == "label" else "")
        for key in stats.get("unread_fields", [])
    ]
    return out


def write_warnings(writer: ShardWriter | LlamaFactoryWriter, format: str) -> list[str]:
    """What a writer had to leave out (message fields its format has no place for)."""
    return [
        f"messages[].{name}: the {format} format has no place for it; left out of {n} record(s) "
        "(openai or canonical keep it)"
        for name, n in sorted(writer.dropped.items())
    ]


def load(path: str | Path, format: str | None = None, *, strict: bool = False) -> LoadResult:
    """The whole file as one :class:`LoadResult` (records, rejected rows, stats)."""
    records, rejected, stats = [], [], []
    name = format or ""
    for part in iter_load(path, format, strict=strict):
        records.append(part.records)
        rejected.append(part.rejected)
        stats.append(part.stats)
        name = part.format
    return LoadResult(
        pl.concat(records) if records else empty_table(),
        pl.concat(rejected) if rejected else empty_rejected(),
        name,
        merge_stats(stats),
    )


def read(path: str | Path, format: str | None = None, *, strict: bool = False) -> pl.DataFrame:
    """Just the canonical records of ``path`` (see :func:`load` for rejects and stats)."""
    return load(path, format, strict=strict).records


def open_writer(path: str | Path, format: str = "canonical", **options: Any) -> ShardWriter | LlamaFactoryWriter:
    """An incremental writer: ``.write(df)`` per canonical shard, ``.close()`` to finish.

    ``format`` is ``canonical`` (Parquet, zstd), an external format (``alpaca``,
    ``sharegpt``, ``openai``, ``preference``, ``kto``, ``glaive``; file type by
    extension: ``.jsonl``, ``.json``, ``.parquet``, ``.gz``) or ``llamafactory`` (``path``
    is a folder; options ``name``, ``formatting``). Format options: ``style``
    (``conversational``/``standard``) for preference/kto, ``system``
    (``column``/``turn``) for sharegpt, ``include_source`` for any external format.
    """
    if format == "llamafactory":
        return LlamaFactoryWriter(path, **options)
    return ShardWriter(path, format, **options)


def write(df: pl.DataFrame, path: str | Path, format: str = "canonical", **options: Any) -> Path:
    """Write a canonical frame in one go (atomic); returns the written path."""
    writer = open_writer(path, format, **options)
    try:
        writer.write(df)
    except BaseException:
        writer.abort()
        raise
    return writer.close()
