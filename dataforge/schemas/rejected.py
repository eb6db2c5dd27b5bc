"""The rejected (quarantine) table: where every row that is not kept goes, with why.

One schema serves both readers (a line that is not valid JSON, a wrong type, an unknown
role...) and operators (a duplicate, a PII-only row, an over-long record...). Nothing is
ever dropped silently: rows in = rows kept + rows rejected, for every reader and every op.

Columns, besides the canonical ones (null when the row never became a record):

* ``stage``        who rejected it: ``read:<format>`` or the operator name (``dedup.near``)
* ``reason``       a short, stable, machine-friendly code (``invalid_json``, ``near_duplicate``)
* ``field``        the offending field path, e.g. ``conversations[2].from``; null if whole-row
* ``detail``       a human sentence with the specifics
* ``duplicate_of`` for duplicates, the id of the record kept instead
* ``source_file``  the input file, when known
* ``source_row``   1-based line (JSONL) or row (JSON array, CSV, Parquet) in that file
* ``raw``          the original row as text when it could not be converted, so it is not lost
"""

from __future__ import annotations

import polars as pl

from .record import POLARS_SCHEMA

REJECT_INFO_SCHEMA: dict[str, pl.DataType] = {
    "stage": pl.String(),
    "reason": pl.String(),
    "field": pl.String(),
    "detail": pl.String(),
    "duplicate_of": pl.String(),
    "source_file": pl.String(),
    "source_row": pl.Int64(),
    "raw": pl.String(),
}

REJECTED_SCHEMA: dict[str, pl.DataType] = {**POLARS_SCHEMA, **REJECT_INFO_SCHEMA}


def empty_rejected() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECTED_SCHEMA)


def reject_records(
    records: pl.DataFrame,
    *,
    stage: str,
    reason: str | pl.Expr,
    detail: str | pl.Expr | None = None,
    field: str | pl.Expr | None = None,
    duplicate_of: str | pl.Expr | None = None,
) -> pl.DataFrame:
    """Turn canonical rows into rejected rows (vectorized; expressions may vary per row)."""

    def as_expr(value: str | pl.Expr | None, dtype: pl.DataType = pl.String()) -> pl.Expr:
        if isinstance(value, pl.Expr):
            return value.cast(dtype)
        return pl.lit(value, dtype=dtype)

    info = {
        "stage": as_expr(stage),
        "reason": as_expr(reason),
        "field": as_expr(field),
        "detail": as_expr(detail),
        "duplicate_of": as_expr(duplicate_of),
        "source_file": pl.lit(None, dtype=pl.String()),
        "source_row": pl.lit(None, dtype=pl.Int64()),
        "raw": pl.lit(None, dtype=pl.String()),
    }
    canonical = [
        pl.col(c).cast(t) if c in records.columns else pl.lit(None, dtype=t).alias(c)
        for c, t in POLARS_SCHEMA.items()
    ]
    return records.select(canonical + [e.alias(k) for k, e in info.items()])


def conform_rejected(df: pl.DataFrame) -> pl.DataFrame:
    """Any frame with a subset of the rejected columns -> exactly the rejected schema."""
    return df.select(
        [
            pl.col(c).cast(t) if c in df.columns else pl.lit(None, dtype=t).alias(c)
            for c, t in REJECTED_SCHEMA.items()
        ]
    )
