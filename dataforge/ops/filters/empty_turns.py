"""filter.empty_turns: reject records with an empty or whitespace-only turn."""

from __future__ import annotations

import polars as pl
from pydantic import Field

from ...schemas.exprs import MESSAGE_LISTS
from ..base import Operator, OpConfig, OpResult, register_op
from ._common import (
    Role, ALL_ROLES, explode_turns, turn_label, turn_field, first_per_row, reject, found_rows,
)

_BLANK = r"^[\s\x{200B}\x{2060}\x{FEFF}]*$"  # whitespace and zero-width characters only


@register_op
class EmptyTurnsFilter(Operator):
    """Reject records with an empty or whitespace-only turn (a tool-call-only assistant turn is fine)."""

    name = "filter.empty_turns"

    class Config(OpConfig):
        roles: list[Role] = Field(ALL_ROLES, description="roles whose turns must have text")

    def process(self, records: pl.DataFrame) -> OpResult:
        turns = explode_turns(records)
        content = pl.col("content")
        blank = content.is_null() | content.str.contains(_BLANK)
        tool_call_only = (pl.col("role") == "assistant") & pl.col("has_calls")
        bad_turns = turns.filter(pl.col("role").is_in(self.config.roles) & blank & ~tool_call_only)
        how = (
            pl.when(content.is_null()).then(pl.lit("has no content"))
            .when(content == "").then(pl.lit("is empty"))
            .otherwise(pl.lit("is whitespace-only"))
        )
        rows = records.select(
            pl.int_range(pl.len(), dtype=pl.Int64).alias("row"),
            *[pl.col(c).list.len().alias(c) for c in MESSAGE_LISTS],
        )
        no_messages = rows.filter(pl.col("messages").fill_null(0) == 0)
        empty_lists = [
            found_rows(rows.filter(pl.col(c) == 0), "empty_turn", pl.lit(f"{c} has no turns"), pl.lit(c))
            .with_columns(list=pl.lit(c), turn=pl.lit(-1, pl.Int64))
            for c in ("chosen", "rejected")
        ]
        found = pl.concat(
            [
                found_rows(no_messages, "no_messages", pl.lit("record has no messages"), pl.lit("messages"))
                .with_columns(list=pl.lit("messages"), turn=pl.lit(-1, pl.Int64)),
                found_rows(bad_turns, "empty_turn", pl.format("{} {}", turn_label(), how), turn_field()),
                *empty_lists,
            ],
            how="diagonal_relaxed",
        )
        return reject(self, records, first_per_row(found), {"empty_turns": bad_turns.height})
