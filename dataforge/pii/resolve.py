"""presidio's span bookkeeping, over all texts at once in polars.

Two steps decide what gets masked once recognizers have spoken:

* :func:`remove_duplicates` is the analyzer's ``EntityRecognizer.remove_duplicates``: a
  finding is dropped when another finding of the same type contains it with a score at
  least as high. (Applied once over all findings it equals presidio's per-recognizer pass
  followed by its global pass: containment with ``>=`` score is transitive.)
* :func:`resolve_conflicts` is the anonymizer's ``REMOVE_INTERSECTIONS`` strategy with
  ``merge_entities_with_spaces``: merge overlapping findings of one type, drop findings
  contained in another (equal spans: the higher score survives), trim partial overlaps in
  favour of the higher score, then merge same-type neighbours separated only by spaces.

Everything is a polars expression except the trimming of partial overlaps, which is
sequential by nature (trimming one span can create the next overlap); it runs presidio's
loop in Python for the few texts that have any partial overlap left.

Ties: presidio breaks an equal-span, equal-score tie between two entity types by list
order, which comes from a ``set`` and so varies between processes; here the
alphabetically first type wins. Our recognizers' scores are chosen so that this never
happens between them (see ``recognizers_zh.py``).
"""

from __future__ import annotations

import polars as pl

FINDINGS_SCHEMA: dict[str, pl.DataType] = {
    "text_id": pl.Int64(),
    "start": pl.Int64(),
    "end": pl.Int64(),
    "entity_type": pl.String(),
    "score": pl.Float64(),
}


def empty_findings() -> pl.DataFrame:
    return pl.DataFrame(schema=FINDINGS_SCHEMA)


def remove_duplicates(findings: pl.DataFrame) -> pl.DataFrame:
    """Drop zero scores, exact duplicates and findings contained in a same-type finding
    with a score at least as high (presidio's analyzer dedup)."""
    f = (
        findings.filter(pl.col("score") > 0)
        .unique(["text_id", "start", "end", "entity_type", "score"])
        .with_row_index("_id")
    )
    contained = (
        f.join(f, on=["text_id", "entity_type"], suffix="_o")
        .filter(
            (pl.col("_id") != pl.col("_id_o"))
            & (pl.col("start_o") <= pl.col("start"))
            & (pl.col("end_o") >= pl.col("end"))
            & (pl.col("score_o") >= pl.col("score"))
        )
        .select("_id")
        .unique()
    )
    return (
        f.join(contained, on="_id", how="anti")
        .drop("_id")
        .sort(["text_id", "start", "end", "entity_type"])
    )


def _merge_same_type_overlaps(f: pl.DataFrame) -> pl.DataFrame:
    f = f.sort(["text_id", "entity_type", "start", "end"])
    prev_end = pl.col("end").cum_max().shift(1).over(["text_id", "entity_type"])
    f = f.with_columns(
        (prev_end.is_null() | (pl.col("start") >= prev_end)).cum_sum().alias("_cluster")
    )
    return f.group_by("_cluster").agg(
        pl.col("text_id").first(),
        pl.col("entity_type").first(),
        pl.col("start").min(),
        pl.col("end").max(),
        pl.col("score").max(),
    ).drop("_cluster")


def _drop_contained(f: pl.DataFrame) -> pl.DataFrame:
    survivors = f.sort(
        ["text_id", "start", "end", "score", "entity_type"],
        descending=[False, False, True, True, False],
    ).unique(["text_id", "start", "end"], keep="first", maintain_order=True)
    seen_end = pl.col("end").cum_max().shift(1).over("text_id")
    return survivors.filter(seen_end.is_null() | (seen_end < pl.col("end")))


def _trim_partial_overlaps(f: pl.DataFrame) -> pl.DataFrame:
    """presidio's REMOVE_INTERSECTIONS loop, run only for texts that need it."""
    f = f.sort(["text_id", "start", "end"])
    prev_end = pl.col("end").shift(1).over("text_id")
    bad_ids = f.filter(pl.col("start") < prev_end)["text_id"].unique()
    if bad_ids.is_empty():
        return f
    clean = f.filter(~pl.col("text_id").is_in(bad_ids.implode()))
    rows = []
    for (text_id,), group in f.filter(pl.col("text_id").is_in(bad_ids.implode())).group_by(
        "text_id", maintain_order=True
    ):
        items = [list(r) for r in group.select("start", "end", "entity_type", "score").rows()]
        rows.extend((text_id, *item) for item in _remove_intersections(items))
    fixed = pl.DataFrame(
        rows, schema=["text_id", "start", "end", "entity_type", "score"], orient="row"
    ).cast(FINDINGS_SCHEMA)
    return pl.concat([clean.select(list(FINDINGS_SCHEMA)), fixed]).sort(["text_id", "start", "end"])


def _remove_intersections(items: list[list]) -> list[list]:
    """``AnonymizerEngine._remove_conflicts...`` REMOVE_INTERSECTIONS, verbatim in spirit."""
    items.sort(key=lambda x: (x[0], x[1]))
    i = 0
    while i < len(items) - 1:
        cur, nxt = items[i], items[i + 1]
        if cur[1] <= nxt[0]:
            i += 1
            continue
        if cur[3] >= nxt[3]:
            nxt[0] = cur[1]
        else:
            cur[1] = nxt[0]
        items.sort(key=lambda x: (x[0], x[1]))
    return [x for x in items if x[0] < x[1]]


def _merge_space_separated(f: pl.DataFrame, texts: pl.Series) -> pl.DataFrame:
    f = f.sort(["text_id", "start", "end"])
    prev_end = pl.col("end").shift(1).over("text_id")
    prev_type = pl.col("entity_type").shift(1).over("text_id")
    gap = (
        pl.col("_src")
        .str.slice(prev_end, pl.col("start") - prev_end)
        .str.contains(r"^ +$")
    )
    joins_previous = (prev_type == pl.col("entity_type")) & (pl.col("start") > prev_end) & gap
    f = f.with_columns(texts.gather(f["text_id"]).alias("_src")).with_columns(
        (~joins_previous.fill_null(False)).cum_sum().alias("_group")
    )
    return (
        f.group_by("_group", maintain_order=True)
        .agg(
            pl.col("text_id").first(),
            pl.col("start").first(),
            pl.col("end").last(),
            pl.col("entity_type").first(),
            pl.col("score").last(),
        )
        .drop("_group")
    )


def resolve_conflicts(findings: pl.DataFrame, texts: pl.Series) -> pl.DataFrame:
    """Disjoint spans to mask, as ``AnonymizerEngine.anonymize`` with REMOVE_INTERSECTIONS
    and ``merge_entities_with_spaces=True`` would replace them (``texts[text_id]``)."""
    if findings.is_empty():
        return empty_findings()
    f = _merge_same_type_overlaps(findings.select(list(FINDINGS_SCHEMA)))
    f = _drop_contained(f)
    f = _trim_partial_overlaps(f)
    f = f.filter(pl.col("start") < pl.col("end"))
    f = _merge_space_separated(f, texts)
    return f.select(list(FINDINGS_SCHEMA)).sort(["text_id", "start"])
