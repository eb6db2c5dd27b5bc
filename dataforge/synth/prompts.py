"""Prompts and answers of canonical records, as polars expressions (no per-row Python).

Every synthesis step reads a record the same way evalkit reads an eval item: the prompt
is ``messages`` without a final assistant turn, and that final assistant turn (when
there is one) is the answer: the reference a verifier compares with, or the answer a
judge scores, or the turn a teacher replaces.
"""

from __future__ import annotations

import polars as pl

from ..schemas.record import MESSAGE_DTYPE


def _last_is_answer(messages: pl.Expr) -> pl.Expr:
    return messages.list.last().struct.field("role") == "assistant"


def prompt_messages(messages: pl.Expr = pl.col("messages")) -> pl.Expr:
    """``messages`` without its final assistant turn (unchanged when there is none)."""
    return (
        pl.when(_last_is_answer(messages))
        .then(messages.list.slice(0, messages.list.len() - 1))
        .otherwise(messages)
    )


def answer_text(messages: pl.Expr = pl.col("messages")) -> pl.Expr:
    """Content of the final assistant turn, or null when the last turn is not one."""
    return pl.when(_last_is_answer(messages)).then(messages.list.last().struct.field("content"))


def has_user_turn(messages: pl.Expr) -> pl.Expr:
    """True when some turn is a user turn with text (something to answer)."""
    return messages.list.eval(
        (pl.element().struct.field("role") == "user")
        & pl.element().struct.field("content").fill_null("").str.contains(r"\S")
    ).list.any()


def prompt_text(messages: pl.Expr) -> pl.Expr:
    """Readable prompt: the content of a one-turn prompt, else ``[role] content`` lines
    (what a judge sees as "the question")."""
    lines = messages.list.eval(pl.concat_str(
        pl.lit("["), pl.element().struct.field("role"), pl.lit("] "),
        pl.element().struct.field("content").fill_null("")))
    only = messages.list.first().struct.field("content").fill_null("")
    return pl.when(messages.list.len() == 1).then(only).otherwise(lines.list.join("\n"))


def with_turn(messages: pl.Series, role: str, contents: list[str],
              tool_calls: list[list[dict[str, str]] | None] | None = None) -> pl.Series:
    """Append one ``role`` turn per row to a ``messages`` column (canonical dtype)."""
    calls = tool_calls if tool_calls is not None else [None] * len(contents)
    turns = pl.Series(
        "turn",
        [[{"role": role, "content": c, "name": None, "tool_calls": t, "tool_call_id": None}]
         for c, t in zip(contents, calls)],
        dtype=pl.List(MESSAGE_DTYPE),
    )
    return pl.DataFrame({"m": messages, "t": turns}).select(
        pl.concat_list("m", "t").alias(messages.name)
    ).to_series()
