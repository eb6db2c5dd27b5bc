"""filter.language: keep records whose script mix matches the wanted languages."""

from __future__ import annotations

from typing import Any, Literal

import polars as pl
from pydantic import Field, field_validator

from ...schemas.exprs import prompt_text, record_text
from ...text import script_counts, strip_code
from ..base import Operator, OpConfig, OpResult, register_op
from ._common import reject, FOUND_SCHEMA, found_rows


Lang = Literal["zh", "en"]


@register_op
class LanguageFilter(Operator):
    """Keep records whose script mix matches the wanted languages (Han for zh, Latin for en)."""

    name = "filter.language"

    class Config(OpConfig):
        lang: list[Lang] | Literal["any"] = Field(
            ["zh", "en"], description='wanted languages ("zh", "en", a list of them) or "any" (keep all, count only)'
        )
        min_ratio: float = Field(
            0.5, gt=0.0, le=1.0, description="least share of the text's letters/words a wanted language must have"
        )
        text: Literal["all", "prompt", "assistant"] = Field(
            "all", description="which text is measured: all turns, user turns of messages, or assistant turns"
        )
        ignore_code: bool = Field(True, description="skip fenced and inline code (its keywords are English)")

        @field_validator("lang", mode="before")
        @classmethod
        def _one_or_many(cls, value: Any) -> Any:
            return [value] if value in ("zh", "en") else value

    def process(self, records: pl.DataFrame) -> OpResult:
        cfg = self.config
        text = {"all": record_text(), "prompt": prompt_text(), "assistant": record_text(roles=["assistant"])}[cfg.text]
        if cfg.ignore_code:
            text = strip_code(text)
        counts = records.select(
            pl.int_range(pl.len(), dtype=pl.Int64).alias("row"), script_counts(text).alias("s")
        ).unnest("s")
        total = pl.col("han") + pl.col("kana") + pl.col("latin") + pl.col("other")
        shares = counts.with_columns(
            (pl.col(c) / total).fill_nan(0.0).alias(f"{c}_share") for c in ("han", "kana", "latin", "other")
        ).with_columns(total.alias("total"))
        dominant = shares.select(pl.concat_list("han", "kana", "latin", "other").list.arg_max())
        stats = {
            "no_letters": int((shares["total"] == 0).sum()),
            "dominant_script": {
                name: int(((dominant.to_series() == i) & (shares["total"] > 0)).sum())
                for i, name in enumerate(("han", "kana", "latin", "other"))
            },
        }
        if cfg.lang == "any":
            return reject(self, records, pl.DataFrame(schema=FOUND_SCHEMA), stats)
        share_of = {"zh": pl.col("han_share"), "en": pl.col("latin_share")}
        ok = pl.any_horizontal([share_of[lang] >= cfg.min_ratio for lang in cfg.lang]) | (pl.col("total") == 0)
        pct = {c: (pl.col(f"{c}_share") * 100).round(1) for c in ("han", "kana", "latin", "other")}
        detail = pl.format(
            "script shares han {}%, latin {}%, kana {}%, other {}% of {} letters/words; want {} >= {}%",
            pct["han"], pct["latin"], pct["kana"], pct["other"], pl.col("total"),
            pl.lit(" or ".join(cfg.lang)), pl.lit(round(cfg.min_ratio * 100, 1)),
        )
        found = found_rows(shares.filter(~ok), "language", detail, None)
        return reject(self, records, found, stats)
