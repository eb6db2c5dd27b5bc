"""filter.length: reject records with a turn or a whole sequence outside length bounds."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import polars as pl
from pydantic import Field, model_validator

from ... import chat_template, models
from ...schemas.exprs import MESSAGE_LISTS
from ..base import Operator, OpConfig, OpResult, register_op
from ._common import (
    Role, ALL_ROLES, explode_turns, turn_label, turn_field, first_per_row, reject, FOUND_SCHEMA, found_rows,
)


@register_op
class LengthFilter(Operator):
    """Reject records with a turn or a whole sequence outside length bounds (chars or tokens)."""

    name = "filter.length"

    class Config(OpConfig):
        unit: Literal["chars", "tokens"] = Field("chars", description="count characters, or tokens of `tokenizer`")
        tokenizer: str = Field(
            models.DEFAULT_CAUSAL_LM,
            description="model whose tokenizer counts tokens (alias, local folder or hub id); unit: tokens",
        )
        min_turn: int | None = Field(None, ge=0, description="fewest units a turn of `roles` may have")
        max_turn: int | None = Field(None, ge=1, description="most units a turn of `roles` may have")
        min_record: int | None = Field(None, ge=0, description="fewest units the record's longest sequence may have")
        max_record: int | None = Field(
            None, ge=1, description="most units a sequence (messages, or messages + chosen/rejected) may have"
        )
        roles: list[Role] = Field(ALL_ROLES, description="roles whose turns the per-turn bounds check")
        batch_size: int = Field(4096, ge=1, description="texts per tokenizer call")

        @model_validator(mode="after")
        def _some_bound(self) -> "LengthFilter.Config":
            if all(b is None for b in (self.min_turn, self.max_turn, self.min_record, self.max_record)):
                raise ValueError("set at least one of min_turn, max_turn, min_record, max_record")
            return self

    @classmethod
    def example_params(cls) -> dict[str, Any]:
        """Parameters for a generic run (the op needs at least one bound)."""
        return {"max_record": 4096}

    def __init__(self, config: Any = None, **params: Any) -> None:
        super().__init__(config, **params)
        self._tokenizer: Any = None

    def setup(self) -> None:
        """Load the tokenizer when lengths are counted in tokens (the loader caches per process)."""
        if self.config.unit != "chars" and self._tokenizer is None:
            self._tokenizer = chat_template.load_tokenizer(self.config.tokenizer)

    def close(self) -> None:
        self._tokenizer = None

    def process(self, records: pl.DataFrame) -> OpResult:
        cfg = self.config
        turns = explode_turns(records)
        turns = turns.with_columns(size=pl.Series(self._measure(turns["content"]), dtype=pl.Int64))
        unit = cfg.unit
        sized = pl.col("size")
        in_roles = pl.col("role").is_in(cfg.roles)
        tool_call_only = pl.col("has_calls") & pl.col("content").fill_null("").eq("")
        found = []
        if cfg.max_turn is not None:
            found.append(found_rows(
                turns.filter(in_roles & (sized > cfg.max_turn)), "turn_too_long",
                pl.format("{} has {} {} > {}", turn_label(), sized, pl.lit(unit), pl.lit(cfg.max_turn)),
                turn_field(),
            ))
        if cfg.min_turn is not None:
            found.append(found_rows(
                turns.filter(in_roles & (sized < cfg.min_turn) & ~tool_call_only), "turn_too_short",
                pl.format("{} has {} {} < {}", turn_label(), sized, pl.lit(unit), pl.lit(cfg.min_turn)),
                turn_field(),
            ))
        seqs = self._sequences(records, turns)
        for bound, reason, op, cmp in (
            (cfg.max_record, "record_too_long", ">", sized.gt),
            (cfg.min_record, "record_too_short", "<", sized.lt),
        ):
            if bound is not None:
                found.append(found_rows(
                    seqs.filter(cmp(bound)), reason,
                    pl.format("{} has {} {} {} {}", pl.col("seq"), sized, pl.lit(unit), pl.lit(op), pl.lit(bound)),
                    None,
                ).with_columns(list=pl.lit("~"), turn=pl.lit(0, pl.Int64)))
        first = (
            first_per_row(pl.concat(found, how="diagonal_relaxed")) if found else pl.DataFrame(schema=FOUND_SCHEMA)
        )
        stats = {f"record_{unit}_max": int(seqs["size"].max() or 0), f"record_{unit}_min": seqs["size"].min()}
        return reject(self, records, first, stats)

    @staticmethod
    def _sequences(records: pl.DataFrame, turns: pl.DataFrame) -> pl.DataFrame:
        """Per record, its longest training sequence: messages, or messages + chosen/rejected."""
        per_list = turns.group_by("row").agg(
            pl.col("size").filter(pl.col("list") == name).sum().alias(name) for name in MESSAGE_LISTS
        )
        base = records.select(
            pl.int_range(pl.len(), dtype=pl.Int64).alias("row"),
            (pl.col("chosen").is_not_null() | pl.col("rejected").is_not_null()).alias("pref"),
        )
        t = base.join(per_list, on="row", how="left").with_columns(
            pl.col(name).fill_null(0) for name in MESSAGE_LISTS
        )
        chosen_longer = pl.col("chosen") >= pl.col("rejected")
        return t.select(
            "row",
            (pl.col("messages") + pl.max_horizontal("chosen", "rejected")).alias("size"),
            pl.when(~pl.col("pref")).then(pl.lit("messages"))
            .when(chosen_longer).then(pl.lit("messages + chosen"))
            .otherwise(pl.lit("messages + rejected")).alias("seq"),
        )

    def _measure(self, contents: pl.Series) -> np.ndarray:
        texts = contents.fill_null("")
        if self.config.unit == "chars":
            return texts.str.len_chars().to_numpy().astype(np.int64)
        self.setup()  # fast tokenizers batch in Rust
        tokenizer = self._tokenizer
        out = np.zeros(len(texts), np.int64)
        size = self.config.batch_size
        for lo in range(0, len(texts), size):
            ids = tokenizer(
                texts.slice(lo, size).to_list(), add_special_tokens=False,
                return_attention_mask=False, verbose=False,
            )["input_ids"]
            out[lo : lo + len(ids)] = np.fromiter(map(len, ids), np.int64, len(ids))
        return out
