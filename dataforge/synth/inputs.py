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
from ..formats.validate import first_bad_turn, message_letter
from ..schemas.record import COLUMNS, conform, with_content_ids


def _is_prompt(messages: list[dict] | None) -> bool:
    if not messages:
        return False
    seq = "".join(message_letter(m) for m in messages)
    return first_bad_turn(seq, "prompt")[0] < 0


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
    records = pl.concat([loaded.records, recovered], how="vertical")
    stats = {**loaded.stats, "prompt_only": recovered.height}
    return LoadResult(records, rejected.filter(~prompt_like), loaded.format, stats)
