"""What two records must share to be duplicates: the dedup key text of a record.

* ``prompt``: the user turns of ``messages``. Records asking the same question collapse,
  whatever their answers (a dataset with one question asked many times teaches that
  question many times).
* ``conversation``: every turn of ``messages``. For a preference record ``messages`` is the
  prompt, so preference pairs are compared by prompt; chosen/rejected never count.
* ``record``: ``messages`` + ``chosen`` + ``rejected``: only whole records collapse.

System turns are left out unless ``include_system``: datasets often put one long system
prompt on every record, which would make every pair look alike. Assistant tool calls
count as ``name(arguments)`` next to the turn's content, so two tool-call records that
differ only in their arguments are not duplicates; tool-call ids never count (they are
random per record). A preference record is one row, so it is kept or rejected whole:
its chosen/rejected pair is never split.
"""

from __future__ import annotations

from typing import Literal

import polars as pl

from ..schemas.exprs import MESSAGE_LISTS, conversation_text

KeyMode = Literal["prompt", "conversation", "record"]

#: Between the message lists of one record, so text cannot slide from one list to the next.
_LIST_SEP = "\n\x1e\n"


def _turn_text() -> pl.Expr:
    """Inside ``list.eval`` over messages: content plus rendered tool calls."""
    call = pl.element().struct
    calls = (
        pl.element()
        .struct.field("tool_calls")
        .list.eval(pl.format("{}({})", call.field("name"), call.field("arguments").fill_null("")))
        .list.join(" ")
    )
    content = pl.element().struct.field("content").fill_null("")
    return pl.concat_str([content, calls], separator=" ", ignore_nulls=True).str.strip_chars()


def key_text(mode: KeyMode, include_system: bool = False) -> pl.Expr:
    """The key of each record as one string (empty when the key has no text)."""
    others = ["user", "assistant", "tool"]
    roles = (["system"] if include_system else []) + (["user"] if mode == "prompt" else others)
    if mode == "record":
        parts = [conversation_text(c, roles, text=_turn_text()) for c in MESSAGE_LISTS]
        return pl.concat_str(parts, separator=_LIST_SEP).str.strip_chars()
    return conversation_text("messages", roles, text=_turn_text())
