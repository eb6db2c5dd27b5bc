"""Polars expressions over canonical records that many ops share.

They stay in expression land (no Python per row) so ops compose them freely.
"""

from __future__ import annotations

from typing import Callable, Iterable

import polars as pl

MESSAGE_LISTS = ("messages", "chosen", "rejected")


def turn_texts(
    column: str = "messages", roles: Iterable[str] | None = None, text: pl.Expr | None = None
) -> pl.Expr:
    """list[str] of the contents of a message list, optionally only some roles.

    Null contents (tool-call-only assistant turns) become empty strings. ``text``, an
    expression over the message (``pl.element()``) inside ``list.eval``, replaces the
    content as what each turn contributes (dedup keys add rendered tool calls).
    """
    content = pl.element().struct.field("content").fill_null("") if text is None else text
    if roles is None:
        return pl.col(column).list.eval(content)
    role_list = list(roles)
    return pl.col(column).list.eval(
        content.filter(pl.element().struct.field("role").is_in(role_list))
    )


def conversation_text(
    column: str = "messages", roles: Iterable[str] | None = None, sep: str = "\n",
    text: pl.Expr | None = None,
) -> pl.Expr:
    """All selected turn contents (or ``text``, see :func:`turn_texts`) of a message list
    joined into one string per row."""
    return turn_texts(column, roles, text).list.join(sep).fill_null("")


def record_text(roles: Iterable[str] | None = None, sep: str = "\n") -> pl.Expr:
    """messages + chosen + rejected text of a record, joined (null lists count as empty)."""
    parts = [conversation_text(c, roles, sep) for c in MESSAGE_LISTS]
    return pl.concat_str(parts, separator=sep).str.strip_chars(sep)


def prompt_text(sep: str = "\n") -> pl.Expr:
    """The user turns of ``messages``: what "the question" means for dedup and decontamination."""
    return conversation_text("messages", roles=["user"], sep=sep)


def map_contents(column: str, fn: Callable[[pl.Expr], pl.Expr]) -> pl.Expr:
    """Rewrite every message's ``content`` in a message-list column.

    ``fn`` receives the content expression and returns the new one, e.g.
    ``map_contents("messages", lambda c: c.str.strip_chars())``. Other message fields
    are kept; null lists stay null.
    """
    return pl.col(column).list.eval(
        pl.element().struct.with_fields(fn(pl.field("content")).alias("content"))
    )
