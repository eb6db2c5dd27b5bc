"""Reading prompts for synthesis: any supported format, prompt-only records included.

The format readers hold training data to the training grammar: a conversation ends with
an assistant turn, so a record that ends with a user turn is rejected (``role_order``).
For synthesis that record is exactly the input: a prompt waiting for its answer. This
reader takes the readers' result and moves back every record rejected *only* for ending
where a prompt ends (after a user turn or tool results), checked with the same role
grammar the readers use; every other rejection stays rejected with its reason.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ..formats.api import LoadResult, load
from ..formats.readers.validate import first_bad_turn, message_letter
from ..schemas.record import COLUMNS, conform, with_content_ids


def _is_prompt(messages: list[dict] | None) -> bool:
    if not messages:
        return False
    seq = "".join(message_letter(m) for m in messages)
    return first_bad_turn(seq, "prompt")[0] < 0


def _in_file_order(records: pl.DataFrame, recovered: pl.DataFrame, rejected: pl.DataFrame,
                   prompt_like: pl.Series) -> pl.DataFrame:
    """Records and recovered prompts interleaved as they stand in the file.

    Rejected rows carry their row number; the records are the other rows, in order. When
    the numbers do not account for every row (several files, blank JSONL lines), the
    recovered prompts simply follow the records."""
    rows = rejected["source_row"].to_list()
    total = records.height + rejected.height
    if None in rows or len(set(rows)) != len(rows) or max(rows) > total:
        return pl.concat([records, recovered], how="vertical")
    taken = set(rows)
    record_rows = [r for r in range(1, total + 1) if r not in taken]
    prompt_rows = [r for r, ok in zip(rows, prompt_like.to_list()) if ok]
    order = pl.Series("_row", record_rows + prompt_rows)
    both = pl.concat([records, recovered], how="vertical").with_columns(order)
    return both.sort("_row").drop("_row")


def load_prompts(path: str | Path, format: str | None = None) -> LoadResult:
    """``formats.api.load`` that also accepts records ending with a user (or tool) turn."""
    loaded = load(path, format)
    rejected = loaded.rejected
    if not rejected.height:
        return loaded
    prompt_like = pl.Series([
        reason == "role_order" and _is_prompt(messages)
        for reason, messages in zip(rejected["reason"].to_list(), rejected["messages"].to_list())
    ], dtype=pl.Boolean)
    if not prompt_like.any():
        return loaded
    recovered = with_content_ids(conform(rejected.filter(prompt_like).select(COLUMNS)))
    records = _in_file_order(loaded.records, recovered, rejected, prompt_like)
    stats = {**loaded.stats, "prompt_only": recovered.height}
    return LoadResult(records, rejected.filter(~prompt_like), loaded.format, stats)
