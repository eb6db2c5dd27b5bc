"""The canonical record: one Arrow schema that every format converts to and from.

This module is the single source of truth for the record's shape. Operators, writers,
evalkit and the back ends only ever see tables with exactly these columns, in this order,
with these types (see ``docs/formats.md`` for the field-by-field meaning).

Design choices worth knowing:

* ``meta`` is JSON *text*, not a struct: provenance and scores differ between sources,
  and a free-form struct would make shards of one dataset disagree on their schema.
* ``tools`` is JSON text too (an array of function schemas, OpenAI style), for the same
  reason: function parameter schemas are arbitrarily nested.
* ``tool_calls[].arguments`` is JSON text, as in the OpenAI API.
* ``content`` may be null: an assistant turn that only calls tools has no text.
* ``chosen``/``rejected`` are continuations of ``messages`` (the prompt); ``label`` marks
  unpaired (KTO) feedback on the last assistant turn of ``messages``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable

import numpy as np
import polars as pl
import pyarrow as pa

from .. import arrow
from ..errors import DataError

ROLES: tuple[str, ...] = ("system", "user", "assistant", "tool")

TOOL_CALL_TYPE = pa.struct(
    [
        pa.field("id", pa.string()),
        pa.field("name", pa.string()),
        pa.field("arguments", pa.string()),
    ]
)

MESSAGE_TYPE = pa.struct(
    [
        pa.field("role", pa.string()),
        pa.field("content", pa.string()),
        pa.field("name", pa.string()),
        pa.field("tool_calls", pa.list_(TOOL_CALL_TYPE)),
        pa.field("tool_call_id", pa.string()),
    ]
)

MESSAGES_TYPE = pa.list_(MESSAGE_TYPE)

CANONICAL_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("messages", MESSAGES_TYPE, nullable=False),
        pa.field("tools", pa.string()),
        pa.field("chosen", MESSAGES_TYPE),
        pa.field("rejected", MESSAGES_TYPE),
        pa.field("label", pa.bool_()),
        pa.field("source", pa.string()),
        pa.field("meta", pa.string()),
    ]
)

COLUMNS: tuple[str, ...] = tuple(CANONICAL_SCHEMA.names)

def polars_schema(schema: pa.Schema) -> dict[str, pl.DataType]:
    """An Arrow schema as polars dtypes.

    Built from a zero-batch table: pyarrow's ``Schema.empty_table()`` imports pandas,
    which would cost every ``import dataforge`` most of a second.
    """
    empty = pa.Table.from_batches([], schema=schema)
    return dict(pl.from_arrow(empty).schema)  # type: ignore[union-attr]


#: The same schema as polars dtypes, for building frames with ``pl.DataFrame(..., schema=)``.
POLARS_SCHEMA: dict[str, pl.DataType] = polars_schema(CANONICAL_SCHEMA)
MESSAGE_DTYPE: pl.DataType = POLARS_SCHEMA["messages"].inner  # type: ignore[attr-defined]


def empty_table() -> pl.DataFrame:
    """A zero-row canonical frame (useful as the identity of a concat)."""
    return pl.DataFrame(schema=POLARS_SCHEMA)


def conform(df: pl.DataFrame) -> pl.DataFrame:
    """Return ``df`` with exactly the canonical columns, order and dtypes.

    Missing optional columns are added as nulls; extra columns are an error (they would be
    silently lost on write otherwise).
    """
    extra = [c for c in df.columns if c not in POLARS_SCHEMA]
    if extra:
        raise DataError(f"not canonical columns: {extra}; move them into `meta`")
    missing = [c for c in ("id", "messages") if c not in df.columns]
    if missing:
        raise DataError(f"canonical table lacks required column(s) {missing}")
    exprs = []
    for name, dtype in POLARS_SCHEMA.items():
        if name in df.columns:
            exprs.append(pl.col(name).cast(dtype, strict=True))
        else:
            exprs.append(pl.lit(None, dtype=dtype).alias(name))
    return df.select(exprs)


def to_arrow(df: pl.DataFrame) -> pa.Table:
    """Canonical polars frame -> Arrow table carrying the exact canonical schema.

    polars hands out 64-bit offsets (``large_string``, ``large_list``) where the schema
    has Arrow's standard 32-bit ones. The buffers are relabelled (offsets narrowed with
    numpy, text and validity shared) rather than cast: the first use of an Arrow compute
    kernel (``pyarrow.compute``) costs a process about 40 MB and 0.06 s of start-up.
    """
    table = conform(df).to_arrow(compat_level=pl.CompatLevel.oldest())
    columns = [
        pa.chunked_array([arrow.narrow(chunk, field.type) for chunk in column.chunks], type=field.type)
        for column, field in zip(table.columns, CANONICAL_SCHEMA)
    ]
    return pa.Table.from_arrays(columns, schema=CANONICAL_SCHEMA)


def message(
    role: str,
    content: str | None,
    *,
    name: str | None = None,
    tool_calls: list[dict[str, str]] | None = None,
    tool_call_id: str | None = None,
) -> dict[str, Any]:
    """Build one message dict in canonical shape (handy in tests and notebooks)."""
    return {
        "role": role,
        "content": content,
        "name": name,
        "tool_calls": tool_calls,
        "tool_call_id": tool_call_id,
    }


def from_dicts(records: Iterable[dict[str, Any]]) -> pl.DataFrame:
    """Build a canonical frame from Python dicts; fills ids by content hash when absent."""
    rows = []
    for rec in records:
        row = {name: rec.get(name) for name in COLUMNS}
        for key in ("messages", "chosen", "rejected"):
            if row[key] is not None:
                row[key] = [message(**_message_kwargs(m)) for m in row[key]]
        if isinstance(row["meta"], dict):
            row["meta"] = json.dumps(row["meta"], ensure_ascii=False, sort_keys=True)
        if isinstance(row["tools"], list):
            row["tools"] = json.dumps(row["tools"], ensure_ascii=False)
        rows.append(row)
    df = pl.DataFrame(rows, schema=POLARS_SCHEMA)
    return with_content_ids(df)


def _message_kwargs(m: dict[str, Any]) -> dict[str, Any]:
    return {k: m.get(k) for k in ("role", "content", "name", "tool_calls", "tool_call_id")}


def with_content_ids(df: pl.DataFrame) -> pl.DataFrame:
    """Fill null ``id`` values with a stable content hash of the record (vectorized).

    The hash covers messages, tools, chosen, rejected and label, so the same conversation
    gets the same id whatever file or format it came from: the first 16 hex digits of
    the SHA-1 of the record's canonical JSON text. Only rows without an id are hashed.
    """
    if "id" not in df.columns:
        df = df.with_columns(pl.lit(None, dtype=pl.String).alias("id"))
    missing = df["id"].is_null()
    n_missing = int(missing.sum())
    if n_missing == 0:
        return df
    subset = df if n_missing == df.height else df.filter(missing)
    content = pl.struct(
        [c for c in ("messages", "tools", "chosen", "rejected", "label") if c in df.columns]
    ).struct.json_encode()
    hashed = sha1_prefixes(subset.select(content.alias("_c"))["_c"])
    if n_missing == df.height:
        return df.with_columns(hashed.alias("id"))
    # scatter the hashes back to the rows that had no id
    slot = missing.cast(pl.Int64).cum_sum() - 1
    return df.with_columns(pl.when(missing).then(hashed.gather(slot.clip(0))).otherwise(df["id"]).alias("id"))


def sha1_prefixes(texts: pl.Series) -> pl.Series:
    """The first 16 hex digits of the SHA-1 of each UTF-8 text (null hashes as empty).

    polars' own hash is seeded and may change between versions; ids must stay stable
    across versions and machines, hence SHA-1. The texts are hashed straight from the
    Arrow buffer (no Python string per row) and the digests hexed in one go, which is
    about 2.5x faster than ``hashlib.sha1(t.encode()).hexdigest()`` over ``to_list()``.
    """
    arr = texts.to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not pa.types.is_large_string(arr.type):
        arr = texts.cast(pl.String).to_arrow(compat_level=pl.CompatLevel.oldest())
    _, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1].tolist()
    data = memoryview(data_buf) if data_buf is not None else memoryview(b"")
    sha1 = hashlib.sha1
    digests = b"".join([sha1(data[a:b]).digest()[:8] for a, b in zip(offsets[:-1], offsets[1:])])
    n = len(arr)
    bounds = np.arange(0, 16 * n + 1, 16, dtype=np.int64)
    out = pa.LargeStringArray.from_buffers(n, pa.py_buffer(bounds), pa.py_buffer(digests.hex().encode("ascii")))
    return arrow.series(texts.name, out)


def records(df: pl.DataFrame) -> list[dict[str, Any]]:
    """Canonical frame -> list of plain dicts, dropping null message fields for reading."""
    out = []
    for rec in df.to_dicts():
        for key in ("messages", "chosen", "rejected"):
            if rec.get(key) is not None:
                rec[key] = [{k: v for k, v in m.items() if v is not None} for m in rec[key]]
        out.append(rec)
    return out
