"""What is in a canonical table: the numbers ``dataforge inspect`` prints.

All aggregates are column expressions over the whole table (turn counts, role counts,
content lengths, tool usage, preference/KTO counts, share of records with CJK text).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from .messages import has_calls

CJK = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"


def _quantiles(s: pl.Series) -> dict[str, float]:
    if s.len() == 0 or s.null_count() == s.len():
        return {"min": 0, "p50": 0, "p95": 0, "max": 0, "mean": 0.0}
    return {
        "min": int(s.min()),  # type: ignore[arg-type]
        "p50": float(s.quantile(0.5, "nearest")),  # type: ignore[arg-type]
        "p95": float(s.quantile(0.95, "nearest")),  # type: ignore[arg-type]
        "max": int(s.max()),  # type: ignore[arg-type]
        "mean": round(float(s.mean()), 1),  # type: ignore[arg-type]
    }


def summarize(df: pl.DataFrame) -> dict[str, Any]:
    """Aggregate statistics of canonical records (see module docstring)."""
    turns = df.select(pl.col("messages").list.len().alias("n"))["n"]
    flat = (
        df.select(pl.concat_list([pl.col("messages"), pl.col("chosen").fill_null([]), pl.col("rejected").fill_null([])]).alias("m"))
        .explode("m")
        .drop_nulls("m")
        .unnest("m")
    )
    roles = dict(flat.group_by("role").len().sort("len", descending=True).iter_rows()) if flat.height else {}
    lengths = (
        flat.group_by("role").agg(pl.col("content").str.len_chars().fill_null(0).alias("chars"))
        if flat.height else pl.DataFrame({"role": [], "chars": []})
    )
    calls = flat.filter(has_calls(pl.col("tool_calls"))) if flat.height else flat
    tool_names = (
        calls.select(pl.col("tool_calls").list.eval(pl.element().struct.field("name")).explode().alias("name"))
        .group_by("name").len().sort("len", descending=True)
        if calls.height else pl.DataFrame({"name": [], "len": []})
    )
    text = pl.col("messages").list.eval(pl.element().struct.field("content").fill_null("")).list.join(" ")
    counts = df.select(
        pl.col("tools").is_not_null().sum().alias("with_tools"),
        (pl.col("chosen").is_not_null() & pl.col("rejected").is_not_null()).sum().alias("pairs"),
        (pl.col("label") == True).sum().alias("kto_desirable"),  # noqa: E712
        (pl.col("label") == False).sum().alias("kto_undesirable"),  # noqa: E712
        text.str.contains(CJK).sum().alias("with_cjk"),
    ).row(0, named=True)
    histogram = dict(
        turns.value_counts().sort(turns.name).iter_rows()
    ) if turns.len() else {}
    return {
        "rows": df.height,
        "turns": {**_quantiles(turns), "histogram": histogram},
        "roles": roles,
        "content_chars": {r: _quantiles(pl.Series(c)) for r, c in lengths.iter_rows()},
        "tool_calls": calls.select(pl.col("tool_calls").list.len().sum()).item() if calls.height else 0,
        "tool_names": dict(tool_names.head(10).iter_rows()),
        **{k: int(v or 0) for k, v in counts.items()},
    }
