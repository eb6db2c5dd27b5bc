"""Columns a format does not know -> the record's ``meta`` JSON, and back.

Nothing in an input row is lost: any column the adapter does not consume (``category``,
``lang``, a dataset's own ``score``...) becomes a member of ``meta``; writers put the
members back as top-level keys where the target format can hold them. Built from
expressions (one JSON member per column, left out when null), so it costs a string
concatenation per row, not a ``json.dumps``.
"""

from __future__ import annotations

import json
import re

import polars as pl

from . import jsontext
from .readers.keyorder import PREFIX as KEY_POSITION
from .readers.objects import EXTRAS_JSON

PASSTHROUGH = ("id", "source", "meta")


def extra_columns(columns: list[str], consumed: set[str]) -> list[str]:
    return [
        c for c in columns
        if c not in consumed and c not in PASSTHROUGH and c != EXTRAS_JSON and not c.startswith(KEY_POSITION)
    ]


def meta_expr(frame: pl.DataFrame, consumed: set[str]) -> pl.Expr:
    """The canonical ``meta`` text: an input ``meta`` object plus every extra column."""
    extras = extra_columns(frame.columns, consumed)
    members = [
        pl.when(pl.col(c).is_not_null()).then(jsontext.member(c, jsontext.value(pl.col(c))))
        for c in extras
    ]
    body = pl.concat_str(members, separator=",", ignore_nulls=True) if members else None
    if members and all(KEY_POSITION + c in frame.columns for c in extras):
        body = _in_row_order(members, [pl.col(KEY_POSITION + c) for c in extras])
    extra = (
        pl.when(body != "").then(pl.concat_str([pl.lit("{"), body, pl.lit("}")]))
        if body is not None else pl.lit(None, dtype=pl.String)
    )
    if EXTRAS_JSON not in frame.columns and "meta" not in frame.columns:
        return extra  # the common case: no merging needed
    if EXTRAS_JSON in frame.columns:
        extra = jsontext.splice(extra, pl.col(EXTRAS_JSON))
    base = pl.lit(None, dtype=pl.String)
    if "meta" in frame.columns:
        dtype = frame.schema["meta"]
        if dtype == pl.String:
            text = pl.col("meta")
            base = pl.when(text.str.starts_with("{")).then(text).otherwise(
                pl.when(text.is_not_null()).then(jsontext.obj([jsontext.member("meta", jsontext.value(text))]))
            )
        elif dtype != pl.Null:
            base = jsontext.value(pl.col("meta"))
    merged = jsontext.splice(base, extra)
    return pl.when(merged.is_null() | (merged == "{}")).then(pl.lit(None, dtype=pl.String)).otherwise(merged)


def _in_row_order(members: list[pl.Expr], positions: list[pl.Expr]) -> pl.Expr:
    """Join members in the order their keys had in each input row (see readers.keyorder)."""
    pairs = pl.concat_list([pl.struct(p.alias("p"), m.alias("m")) for m, p in zip(members, positions)])
    ordered = pairs.list.eval(
        pl.element().sort_by(pl.element().struct.field("p"), nulls_last=True).struct.field("m").drop_nulls()
    )
    return ordered.list.join(",")


def has_reserved_keys(meta: pl.Expr, reserved: set[str]) -> pl.Expr:
    """Rows whose meta may hold a key the output format uses itself (then keep ``meta``
    as one text field rather than spreading it, so nothing collides)."""
    if not reserved:
        return pl.lit(False)
    alt = "|".join(re.escape(json.dumps(k, ensure_ascii=False)) for k in sorted(reserved))
    return meta.str.contains(f"(?:{alt}):").fill_null(False)
