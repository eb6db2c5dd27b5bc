"""What every record filter shares: turns exploded into one flat frame, the turn labels and
field paths rejections carry, and the split of records by what a filter found.

Every rejection carries a stable reason code, the offending field when there is one
(``messages[2].content``, 0-based like the readers' field paths) and a detail with the
measured value, naming turns 1-based as people count them ("assistant turn 3 has 5120
tokens > 4096"). A record failing several checks of one filter is rejected for the
first failing turn. Turns of ``chosen``/``rejected`` are named with their list
("chosen assistant turn 1"). Checks run on all turns of a shard at once: messages are
exploded into one flat frame (:func:`explode_turns`) and measured column-wise.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import polars as pl

from ...schemas.exprs import MESSAGE_LISTS
from ..base import Operator, OpResult

Role = Literal["system", "user", "assistant", "tool"]
ListName = Literal["messages", "chosen", "rejected"]
ALL_ROLES: list[Role] = ["system", "user", "assistant", "tool"]


# -- shared machinery ---------------------------------------------------------------------------


def explode_turns(records: pl.DataFrame, columns: tuple[str, ...] | list[str] = MESSAGE_LISTS) -> pl.DataFrame:
    """One row per message of the given lists, in record order.

    Columns: ``row`` (index of the record), ``list`` (messages/chosen/rejected), ``turn``
    (0-based within its list), ``role``, ``content`` (may be null) and ``has_calls``
    (the message carries tool calls).
    """
    frames = []
    for column in columns:
        lists = records.get_column(column)
        lens = lists.list.len().fill_null(0).to_numpy().astype(np.int64)
        msgs = lists.explode(empty_as_null=False, keep_nulls=False)
        n = int(lens.sum())
        starts = np.cumsum(lens) - lens
        frames.append(
            pl.DataFrame(
                {
                    "row": np.repeat(np.arange(records.height, dtype=np.int64), lens),
                    "list": pl.repeat(column, n, dtype=pl.String, eager=True),
                    "turn": np.arange(n, dtype=np.int64) - np.repeat(starts, lens),
                    "role": msgs.struct.field("role"),
                    "content": msgs.struct.field("content"),
                    "has_calls": msgs.struct.field("tool_calls").list.len().fill_null(0) > 0,
                }
            )
        )
    return pl.concat(frames)


def turn_label() -> pl.Expr:
    """ "assistant turn 3", or "chosen assistant turn 1" outside ``messages``."""
    who = pl.format("{} turn {}", pl.col("role"), pl.col("turn") + 1)
    return pl.when(pl.col("list") == "messages").then(who).otherwise(pl.format("{} {}", pl.col("list"), who))


def turn_field() -> pl.Expr:
    return pl.format("{}[{}].content", pl.col("list"), pl.col("turn"))


def first_per_row(found: pl.DataFrame) -> pl.DataFrame:
    """Keep the first offending turn of each record (messages before chosen before rejected)."""
    order = pl.col("list").replace_strict(list(MESSAGE_LISTS), [0, 1, 2], default=3)
    return found.sort(pl.col("row"), order, pl.col("turn")).unique("row", keep="first", maintain_order=True)


def reject(op: Operator, records: pl.DataFrame, found: pl.DataFrame, stats: dict[str, Any]) -> OpResult:
    """Split ``records`` by ``found`` (one row per offending record: row, reason, detail, field)."""
    marked = records.with_row_index("_row").join(
        found.select(
            pl.col("row").cast(pl.UInt32).alias("_row"),
            pl.col("reason").alias("_reason"),
            pl.col("detail").alias("_detail"),
            pl.col("field").cast(pl.String).alias("_field"),
        ),
        on="_row", how="left", maintain_order="left",
    )
    result = op.split(
        marked, pl.col("_reason").is_not_null(), reason=pl.col("_reason"),
        detail=pl.col("_detail"), field=pl.col("_field"), stats=stats,
    )
    result.kept = result.kept.select(records.columns)
    return result


FOUND_SCHEMA = {"row": pl.Int64, "reason": pl.String, "detail": pl.String, "field": pl.String}


def found_rows(frame: pl.DataFrame, reason: str | pl.Expr, detail: pl.Expr, field: pl.Expr | None) -> pl.DataFrame:
    reason_expr = reason if isinstance(reason, pl.Expr) else pl.lit(reason)
    field_expr = field if field is not None else pl.lit(None, dtype=pl.String)
    return frame.select(
        pl.col("row"), reason_expr.alias("reason"), detail.alias("detail"), field_expr.alias("field"),
        *[c for c in ("list", "turn") if c in frame.columns],
    )
