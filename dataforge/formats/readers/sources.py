"""Files -> shards of raw rows, with bounded memory and every bad row located.

Supported inputs: JSON Lines (``.jsonl``/``.ndjson``), JSON (an array of objects, or
JSON Lines under a ``.json`` name), Parquet, CSV; any of them gzip'd (``.gz``).

* JSONL is read in blocks of ``shard_rows`` lines and at most ``shard_bytes`` bytes
  (:mod:`jsonl`): long records make small shards, so memory follows bytes, not rows.
* A JSON array is split into elements at the byte level and read as JSONL, in the same
  blocks (:mod:`jsonarray`); only a ``.json`` file holding one object is parsed whole.
* Parquet is read by record batches, CSV by Arrow's streaming reader (:mod:`tabular`); a
  Parquet batch holds ``shard_rows`` rows, fewer when the file's average row is large.

Row numbers are 1-based: the line for JSONL (blank lines count, so they match an
editor), the element for JSON arrays, the data row (header excluded) for CSV/Parquet.
CSV cells are text; nested fields (``conversations``, ``history``...) are JSON text in a
cell, and an empty cell reads as null.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import polars as pl
import pyarrow as pa

from ..base import FormatError, Plan, Sample, json_kind
from . import hazards, keyorder
from .conform import Conformed, conform
from .jsonarray import iter_element_blocks
from .jsonl import iter_line_blocks, jsonl_shard
from .objects import objects_to_frame
from .shard import RawShard
from .tabular import csv_frames, parquet_batches, typed_shard
from .textio import file_kind, open_binary

SAMPLE_ROWS = 100


# -- samples (detection and planning) -----------------------------------------------------

def sample(path: Path, n: int = SAMPLE_ROWS) -> Sample:
    """The first ``n`` parseable rows as Python objects (bad rows are skipped here)."""
    kind = file_kind(path)
    if kind == "jsonl":
        rows: list[dict[str, Any]] = []
        with open_binary(path) as f:
            for i, line in enumerate(f):
                if len(rows) >= n or i > 50 * n:
                    break
                try:
                    obj = json.loads(line)
                except (ValueError, RecursionError):  # the reader rejects such lines later
                    continue
                if isinstance(obj, dict):
                    rows.append(obj)
        return Sample(rows)
    if kind == "json":
        return Sample([o for o in _json_array_head(path, n) if isinstance(o, dict)])
    if kind == "parquet":
        batch = next(parquet_batches(path, n), None)
        rows = batch.to_pylist() if batch is not None else []
    else:
        frame = next(csv_frames(path, n), None)
        rows = frame.head(n).to_dicts() if frame is not None else []
    # nested fields stored as JSON text (every CSV, some Parquet files) are read as such
    # (see tabular.typed_shard), so detection looks at the decoded values
    return Sample([{k: _maybe_json(v) for k, v in r.items()} for r in rows])


def _maybe_json(v: Any) -> Any:
    if isinstance(v, str) and v[:1] in ("[", "{"):
        try:
            return json.loads(v)
        except (ValueError, RecursionError):
            return v
    return v


def _json_array_head(path: Path, n: int) -> list[Any]:
    """The first ``n`` parseable elements of a JSON array (a bad element is skipped here;
    the reader rejects it with its element number)."""
    if not _starts_array(path):  # one object: parsed whole, as the reader does
        with open_binary(path) as f:
            try:
                return [json.loads(f.read(16 << 20).removeprefix(b"\xef\xbb\xbf"))]
            except (ValueError, RecursionError):
                return []
    out: list[Any] = []
    for block, _ in iter_element_blocks(path, n, 16 << 20):
        for line in block.splitlines():
            try:
                out.append(json.loads(line))
            except (ValueError, RecursionError):
                continue
        break
    return out


# -- shards -------------------------------------------------------------------------------

def iter_shards(path: Path, plan: Plan, shard_rows: int, shard_bytes: int | None = None) -> Iterator[RawShard]:
    kind = file_kind(path)
    if kind == "jsonl":
        for block, first_line in iter_line_blocks(path, shard_rows, shard_bytes):
            yield jsonl_shard(block, first_line, plan)
    elif kind == "json" and _starts_array(path):
        for block, first in iter_element_blocks(path, shard_rows, shard_bytes or (1 << 62)):
            yield jsonl_shard(block, first, plan)
    elif kind == "json":
        yield from _json_array_shards(path, plan, shard_rows)
    elif kind == "parquet":
        start = 1
        for batch in parquet_batches(path, shard_rows, shard_bytes):
            frame = pl.from_arrow(batch)
            yield typed_shard(frame, list(range(start, start + batch.num_rows)), plan)  # type: ignore[arg-type]
            start += batch.num_rows
    else:
        start = 1
        for frame in csv_frames(path, shard_rows):
            yield typed_shard(frame, list(range(start, start + frame.height)), plan)
            start += frame.height


def _starts_array(path: Path) -> bool:
    with open_binary(path) as f:
        return f.read(1 << 16).removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"[")


def _json_array_shards(path: Path, plan: Plan, shard_rows: int) -> Iterator[RawShard]:
    """A ``.json`` file that is not an array (one object): parsed whole."""
    with open_binary(path) as f:
        data = f.read()
    constants: list[str] = []

    def constant(token: str) -> hazards.NonFinite:
        constants.append(token)
        return hazards.NonFinite(token)

    try:
        items = json.loads(data.removeprefix(b"\xef\xbb\xbf"), parse_constant=constant, parse_float=hazards.Number)
    except UnicodeDecodeError as e:
        raise FormatError(f"{path}: not valid UTF-8 (byte {e.start + 1})") from None
    except json.JSONDecodeError as e:
        raise FormatError(f"{path}: not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    except RecursionError:
        raise FormatError(f"{path}: nests arrays/objects deeper than the JSON parser allows") from None
    del data
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        raise FormatError(f"{path}: expected a JSON array of objects, got {json_kind(items)}")
    for start in range(0, len(items), shard_rows):
        chunk = items[start:start + shard_rows]
        rows = list(range(start + 1, start + 1 + len(chunk)))

        def text_at(p: int, chunk: list = chunk) -> str:
            return hazards.dumps(chunk[p])

        conformed: Conformed | None = None
        if all(isinstance(o, dict) for o in chunk) and chunk and not constants:
            try:
                array = pa.array(chunk)
                if hazards.type_depth(array.type) <= hazards.MAX_DEPTH:  # polars crashes on deeper types
                    conformed = conform(pl.from_arrow(pa.Table.from_struct_array(array)), plan)  # type: ignore[arg-type]
            except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError):  # the slow path says which row
                conformed = None
        if conformed is not None and not conformed.incompatible and not _float_ids(conformed.frame):
            conformed.frame = keyorder.from_objects(conformed.frame, chunk, plan)
            yield RawShard(conformed.frame, rows, [], len(chunk), lambda pos, t=text_at: [t(p) for p in pos], conformed.ignored)
            continue
        conformed, good_rows, positions, bad = objects_to_frame(chunk, rows, text_at, plan)
        yield RawShard(
            conformed.frame, good_rows, bad, len(chunk),
            lambda pos, t=text_at, ps=positions: [t(ps[p]) for p in pos], conformed.ignored,
        )


def _float_ids(frame: pl.DataFrame) -> bool:
    """Ids or sources Arrow typed as floats: the slow path keeps the text the user wrote."""
    return any(frame.schema[k].is_float() for k in ("id", "source") if k in frame.columns)
