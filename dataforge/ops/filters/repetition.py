"""filter.repetition: reject records with a turn that keeps repeating itself."""

from __future__ import annotations

import polars as pl
from pydantic import Field

from ...text import shingle_hashes
from ..base import Operator, OpConfig, OpResult, register_op
from ._common import Role, ListName, explode_turns, turn_label, turn_field, first_per_row, reject, found_rows


@register_op
class RepetitionFilter(Operator):
    """Reject records with a turn that keeps repeating itself (share of repeated n-grams)."""

    name = "filter.repetition"

    class Config(OpConfig):
        max_ratio: float = Field(
            0.5, gt=0.0, lt=1.0,
            description="most share of a turn's n-grams that may repeat an earlier n-gram of that turn",
        )
        ngram_words: int = Field(10, ge=1, description="n-gram size in words (space-delimited text)")
        ngram_chars: int = Field(15, ge=1, description="n-gram size in characters (Chinese/Japanese text)")
        roles: list[Role] = Field(["assistant"], description="roles whose turns are checked")
        columns: list[ListName] = Field(
            ["messages", "chosen"],
            description="message lists checked (rejected answers are left alone: a repetitive rejected "
            "answer is a useful negative)",
        )

    def process(self, records: pl.DataFrame) -> OpResult:
        cfg = self.config
        turns = explode_turns(records, cfg.columns).filter(pl.col("role").is_in(cfg.roles))
        texts = turns.select(pl.col("content").fill_null("").str.to_lowercase()).to_series()
        shingles = shingle_hashes(texts, ngram_words=cfg.ngram_words, ngram_chars=cfg.ngram_chars)
        per_turn = (
            pl.DataFrame({"doc": shingles.doc, "h": shingles.hashes})
            .group_by("doc")
            .agg(pl.len().alias("total"), pl.col("h").n_unique().alias("distinct"))
            .with_columns((1.0 - pl.col("distinct") / pl.col("total")).alias("ratio"))
        )
        scored = (
            turns.with_columns(
                pl.int_range(pl.len(), dtype=pl.Int64).alias("doc"),
                pl.Series("char_mode", shingles.char_mode),
            )
            .join(per_turn, on="doc", how="left")
            .with_columns(pl.col("ratio").fill_null(0.0))
        )
        bad = scored.filter(pl.col("ratio") > cfg.max_ratio)
        n = pl.when(pl.col("char_mode")).then(pl.lit(cfg.ngram_chars)).otherwise(pl.lit(cfg.ngram_words))
        unit = pl.when(pl.col("char_mode")).then(pl.lit("character")).otherwise(pl.lit("word"))
        detail = pl.format(
            "{}: {}% of its {}-{} n-grams repeat (> {}%)", turn_label(),
            (pl.col("ratio") * 100).round(1), n, unit, pl.lit(round(cfg.max_ratio * 100, 1)),
        )
        found = found_rows(bad, "repetition", detail, turn_field())
        stats = {"ratio_max": float(scored["ratio"].max() or 0.0)}
        return reject(self, records, first_per_row(found), stats)
