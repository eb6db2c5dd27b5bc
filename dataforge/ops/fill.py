"""fill: put values into template slots in every message (messages, chosen, rejected).

Self-cognition data ships answers like "I am [[NAME]], made by [[AUTHOR]]" (LLaMA-Factory's
``identity.json`` habit); the recipe fills the slots with the assistant's name and author,
usually from ``${VAR}``s, so one dataset serves every deployment. Slots are literal text
(no patterns), replaced everywhere at once in one vectorized pass; the op never rejects
and counts the turns it changed. A slot left unfilled is what ``filter.placeholders``
(with the slot's pattern) is for.
"""

from __future__ import annotations

import polars as pl
from pydantic import Field, field_validator

from ..schemas.exprs import MESSAGE_LISTS, map_contents
from ..schemas.rejected import empty_rejected
from .base import Operator, OpConfig, OpResult, register_op


@register_op
class Fill(Operator):
    """Replace literal template slots (e.g. `[[NAME]]`) in every message with values; never rejects."""

    name = "fill"

    class Config(OpConfig):
        values: dict[str, str] = Field(description='slot -> value, e.g. {"[[NAME]]": "Aria", "[[AUTHOR]]": "Acme"}')

        @field_validator("values")
        @classmethod
        def _slots_not_empty(cls, values: dict[str, str]) -> dict[str, str]:
            if not values or any(not slot for slot in values):
                raise ValueError("give at least one slot, none of them empty")
            return values

    @classmethod
    def example_params(cls) -> dict[str, dict[str, str]]:
        return {"values": {"[[NAME]]": "Aria"}}

    def process(self, records: pl.DataFrame) -> OpResult:
        slots, values = list(self.config.values), list(self.config.values.values())
        filled = records.with_columns(
            map_contents(c, lambda content: content.str.replace_many(slots, values)) for c in MESSAGE_LISTS
        )
        turns = 0
        for c in MESSAGE_LISTS:
            before = records[c].list.eval(pl.element().struct.field("content")).explode(keep_nulls=False)
            after = filled[c].list.eval(pl.element().struct.field("content")).explode(keep_nulls=False)
            turns += int(before.ne_missing(after).sum())
        return OpResult(filled, empty_rejected(), {"turns_filled": turns})
