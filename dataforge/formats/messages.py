"""Expressions that build and read canonical messages, shared by every adapter.

Adapters describe *where* a format keeps roles, texts and tool calls; these helpers
turn that into canonical ``list<message>`` columns (and back) without leaving polars.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from .. import arrow
from ..schemas.record import MESSAGE_DTYPE
from . import jsontext

MESSAGES_DTYPE = pl.List(MESSAGE_DTYPE)
TOOL_CALLS_DTYPE: pl.DataType = {f.name: f.dtype for f in MESSAGE_DTYPE.fields}["tool_calls"]  # type: ignore[attr-defined]

#: Role letters for the one-regex-per-row role-order check (see ``validate``):
#: s system, u user, a assistant, c assistant that calls tools, t tool result, ? unknown.
ROLE_LETTERS = {"system": "s", "user": "u", "assistant": "a", "tool": "t"}

EMPTY_MESSAGES = pl.lit([], dtype=MESSAGES_DTYPE)


def message(
    role: pl.Expr | str,
    content: pl.Expr | None,
    *,
    name: pl.Expr | None = None,
    tool_calls: pl.Expr | None = None,
    tool_call_id: pl.Expr | None = None,
) -> pl.Expr:
    """One canonical message struct (field order and dtypes exactly as the schema)."""

    def text(e: pl.Expr | str | None) -> pl.Expr:
        if e is None:
            return pl.lit(None, dtype=pl.String)
        return pl.lit(e) if isinstance(e, str) else e.cast(pl.String)

    calls = pl.lit(None, dtype=TOOL_CALLS_DTYPE) if tool_calls is None else tool_calls
    return pl.struct(
        role=text(role),
        content=text(content),
        name=text(name),
        tool_calls=calls.cast(TOOL_CALLS_DTYPE),
        tool_call_id=text(tool_call_id),
    )


def one(msg: pl.Expr) -> pl.Expr:
    """A one-message list."""
    return pl.concat_list([msg])


def optional(msg: pl.Expr, present: pl.Expr) -> pl.Expr:
    """A one-message list where ``present`` holds, else an empty list (for concat_list)."""
    return pl.when(present).then(one(msg)).otherwise(EMPTY_MESSAGES)


def concat_columns(df: pl.DataFrame, parts: list[str], name: str) -> pl.DataFrame:
    """Row-wise concatenation of list columns ``parts`` into ``name`` (parts dropped).

    A null part counts as empty. Done with offsets in numpy and one polars ``gather``
    of the message structs because polars' ``concat_list`` is ~10x slower on lists of
    nested structs, and this sits on every reader's hot path (Arrow's ``take`` would do
    too, but its compute kernels cost ~40 MB and 0.06 s of start-up on first use).
    """
    nonempty = [c for c in parts if df[c].list.len().fill_null(0).sum() > 0]
    if len(nonempty) <= 1:  # common: no system column, no history -> nothing to join
        keep = nonempty[0] if nonempty else parts[-1]
        filled = pl.col(keep).fill_null(pl.lit([], dtype=df.schema[keep]))
        return df.with_columns(filled.alias(name)).drop([p for p in parts if p != name])
    lengths = np.stack([df[c].list.len().fill_null(0).to_numpy().astype(np.int64) for c in parts])
    flats = [df[c].explode(empty_as_null=False, keep_nulls=False) for c in parts]  # values, row by row
    part_base = np.cumsum([0] + [len(f) for f in flats])[:-1]
    starts = np.stack(
        [np.concatenate(([0], np.cumsum(lens)[:-1])) + base for lens, base in zip(lengths, part_base)], axis=1
    ).ravel()
    seg_lens = lengths.T.ravel()
    seg_out = np.concatenate(([0], np.cumsum(seg_lens)[:-1]))
    index = np.repeat(starts - seg_out, seg_lens) + np.arange(int(seg_lens.sum()))
    positions = arrow.series("index", arrow.int64_array(index))  # not numpy: see dataforge.arrow
    values = pl.concat(flats).gather(positions).to_arrow(compat_level=pl.CompatLevel.oldest())
    offsets = np.concatenate(([0], np.cumsum(lengths.sum(axis=0)))).astype(np.int64)
    joined = pa.Array.from_buffers(pa.large_list(values.type), len(offsets) - 1, [None, pa.py_buffer(offsets)],
                                   children=[values])
    series = arrow.series(name, joined).cast(df.schema[parts[0]])
    return df.drop(parts).with_columns(series)


def field(name: str) -> pl.Expr:
    """A field of the current list element (inside ``list.eval``)."""
    return pl.element().struct.field(name)


def nonblank(text: pl.Expr) -> pl.Expr:
    """Text with something besides whitespace (null -> False)."""
    return text.str.strip_chars().str.len_chars().fill_null(0) > 0


def has_calls(calls: pl.Expr) -> pl.Expr:
    return calls.list.len().fill_null(0) > 0


def letters(column: str) -> pl.Expr:
    """The role sequence of a message list as one string per row, e.g. ``"suacta"``."""
    role = field("role")
    letter = (
        pl.when((role == "assistant") & has_calls(field("tool_calls")))
        .then(pl.lit("c"))
        .otherwise(role.replace_strict(ROLE_LETTERS, default="?", return_dtype=pl.String))
    )
    return pl.col(column).list.eval(letter.fill_null("?")).list.join("")


def tool_call(name: pl.Expr, arguments: pl.Expr, call_id: pl.Expr | None = None) -> pl.Expr:
    """A canonical tool call; ``arguments`` is normalized (invalid JSON -> null)."""
    return pl.struct(
        id=pl.lit(None, dtype=pl.String) if call_id is None else call_id.cast(pl.String),
        name=name.cast(pl.String),
        arguments=jsontext.normalize_object(arguments),
    )


def call_json(call: pl.Expr) -> pl.Expr:
    """``{"name":...,"arguments":{...}}`` text of a canonical tool call struct.

    The form ShareGPT ``function_call`` turns and glaive ``<functioncall>`` use.
    Arguments are already JSON text, so they are spliced in unquoted.
    """
    return jsontext.obj(
        [
            jsontext.member("name", jsontext.value(call.struct.field("name"))),
            jsontext.member("arguments", call.struct.field("arguments")),
        ]
    )
