"""Turn resolved spans into replacement text, vectorized.

Two styles: typed placeholders (``<PHONE>``) and pseudonyms that stay consistent within a
record (``<PERSON_1>`` for the same person in every turn, ``<PERSON_2>`` for the next
one), so a model trained on the data still sees *who* said what to whom. Pseudonym
numbers count per record and label in order of first appearance; values are compared
after NFKC folding, lower-casing and dropping spaces, dashes, dots and brackets, so
``138-0013-8000`` and ``13800138000`` are the same phone.
"""

from __future__ import annotations

import polars as pl


def replacements(
    spans: pl.DataFrame,
    texts: pl.Series,
    labels: dict[str, str],
    record_of_text: pl.Series | None = None,
) -> pl.DataFrame:
    """``spans`` plus ``label``, ``value`` and ``replacement`` columns.

    Without ``record_of_text`` placeholders are produced; with it (the record row of every
    text, texts in record order), pseudonyms numbered per record.
    """
    spans = spans.sort(["text_id", "start"])
    source = texts.gather(spans["text_id"])
    spans = spans.with_columns(
        pl.col("entity_type").replace_strict(labels, default=pl.col("entity_type")).alias("label"),
        source.str.slice(spans["start"], spans["end"] - spans["start"]).alias("value"),
    )
    if record_of_text is None:
        return spans.with_columns(pl.format("<{}>", pl.col("label")).alias("replacement"))
    key = (
        pl.col("value").str.normalize("NFKC").str.to_lowercase()
        .str.replace_all(r"[\s\-.()（）]", "")
    )
    return (
        spans.with_columns(
            record_of_text.gather(spans["text_id"]).alias("_record"),
            key.alias("_key"),
            pl.int_range(pl.len()).alias("_order"),
        )
        .with_columns(pl.col("_order").min().over(["_record", "label", "_key"]).alias("_first"))
        .with_columns(pl.col("_first").rank("dense").over(["_record", "label"]).alias("_n"))
        .with_columns(pl.format("<{}_{}>", pl.col("label"), pl.col("_n")).alias("replacement"))
        .drop("_record", "_key", "_order", "_first", "_n")
    )


def apply_spans(texts: pl.Series, spans: pl.DataFrame) -> pl.Series:
    """``texts`` with every span replaced by its ``replacement`` (spans disjoint)."""
    if spans.is_empty():
        return texts
    s = spans.sort(["text_id", "start"])
    s = s.with_columns(texts.gather(s["text_id"]).alias("_src")).with_columns(
        pl.col("end").shift(1).over("text_id").fill_null(0).alias("_prev")
    )
    pieces = s.with_columns(
        pl.concat_str(
            pl.col("_src").str.slice(pl.col("_prev"), pl.col("start") - pl.col("_prev")),
            pl.col("replacement"),
        ).alias("_piece")
    )
    per_text = pieces.group_by("text_id", maintain_order=True).agg(
        pl.col("_piece").str.join(""),
        pl.col("end").last(),
        pl.col("_src").first(),
    )
    rebuilt = per_text.select(
        pl.col("text_id"),
        pl.concat_str(pl.col("_piece"), pl.col("_src").str.slice(pl.col("end"))).alias("new"),
    )
    return texts.clone().scatter(rebuilt["text_id"], rebuilt["new"])
