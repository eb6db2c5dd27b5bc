"""Row checks on converted records: vectorized verdicts, precise details only for rejects.

Every converted row gets at most one reason code (the first failing check, in the order
of :data:`REASONS`). The verdict is pure column expressions; the field path and the human
sentence are computed afterwards in Python, only for the rows that failed.

Role order is checked with one regex per row over the role letters (see
``messages.letters``): ``s`` system, ``u`` user, ``a`` assistant, ``c`` assistant calling
tools, ``t`` tool result. The grammar (also used by :func:`first_bad_turn`):

* conversation (SFT, KTO):   ``s? u ((c t+)* a u)* (c t+)* [ac]``
* preference prompt:         ``s? u ((c t+)* a u)* (c t+)*``
* chosen / rejected:         ``(c t+)* [ac]``
"""

from __future__ import annotations

from typing import Any

import polars as pl

from ..messages import ROLE_LETTERS, field, has_calls, letters, nonblank

#: reason code -> what it means (docs/formats.md renders this table)
REASONS: dict[str, str] = {
    "invalid_json": "the line/row is not valid JSON (or not UTF-8; NaN/Infinity; a lone UTF-16 surrogate)",
    "too_deep": "arrays/objects nested deeper than 100 levels",
    "wrong_type": "a field has the wrong JSON type (e.g. a number where text is expected)",
    "missing_field": "a field the format needs is absent (e.g. no `conversations`, or a pair without `rejected`)",
    "empty_conversation": "the conversation has no turns",
    "unknown_role": "a turn's role is not one the format defines",
    "invalid_tool_call": "a tool call without a function name, or a function-call turn that is not JSON",
    "invalid_tool_arguments": "tool-call arguments are not a JSON object",
    "invalid_tools": "the `tools` field is not a JSON array (or object) of function schemas",
    "empty_turn": "a turn with no text (assistant turns that only call tools are fine)",
    "role_order": "turns out of order (system first, user/assistant alternate, tool results only after a tool call, ends with the assistant; a preference prompt ends with the user)",
}

SFT_ORDER = r"^s?u(?:(?:ct+)*au)*(?:ct+)*[ac]$"
PROMPT_ORDER = r"^s?u(?:(?:ct+)*au)*(?:ct+)*$"
CONTINUATION_ORDER = r"^(?:ct+)*[ac]$"

LISTS = ("messages", "chosen", "rejected")


def _any_message(column: str, predicate: pl.Expr) -> pl.Expr:
    return pl.col(column).list.eval(predicate).list.any().fill_null(False)


def _any_call(column: str, predicate: pl.Expr) -> pl.Expr:
    calls = field("tool_calls").list.eval(predicate).list.any().fill_null(False)
    return _any_message(column, calls)


def verdict(df: pl.DataFrame) -> pl.Series:
    """One reason code per row (null = the row is fine)."""
    has = {c: c in df.columns for c in (*LISTS, "_bad_tools", "_missing_label")}
    lists = [c for c in LISTS if has[c]]
    is_pref = pl.lit(False)
    if has["chosen"] and has["rejected"]:
        is_pref = pl.col("chosen").is_not_null() | pl.col("rejected").is_not_null()
    tmp = df.select(
        [letters(c).alias(f"_L{c}") for c in lists]
        + [is_pref.alias("_pref")]
        + [pl.col(c) for c in lists]
        + [pl.col(c) for c in ("_bad_tools", "_missing_label") if has[c]]
    )
    L = {c: pl.col(f"_L{c}") for c in lists}

    def any_of(exprs: list[pl.Expr]) -> pl.Expr:
        return pl.any_horizontal(exprs) if exprs else pl.lit(False)

    missing = pl.col("messages").is_null()
    if has["chosen"] and has["rejected"]:
        missing = missing | (pl.col("chosen").is_null() != pl.col("rejected").is_null())
    if has["_missing_label"]:
        missing = missing | pl.col("_missing_label")
    empty_conv = pl.col("messages").list.len() == 0
    unknown = any_of([L[c].str.contains("?", literal=True).fill_null(False) for c in lists])
    bad_call = any_of([_any_call(c, ~nonblank(pl.element().struct.field("name"))) for c in lists])
    bad_args = any_of([_any_call(c, pl.element().struct.field("arguments").is_null()) for c in lists])
    empty = any_of(
        [
            _any_message(c, ~nonblank(field("content")) & ~((field("role") == "assistant") & has_calls(field("tool_calls"))))
            for c in lists
        ]
    )
    sft_ok = L["messages"].str.contains(SFT_ORDER)
    if has["chosen"] and has["rejected"]:
        pref_ok = (
            L["messages"].str.contains(PROMPT_ORDER)
            & L["chosen"].str.contains(CONTINUATION_ORDER)
            & L["rejected"].str.contains(CONTINUATION_ORDER)
        )
        order_ok = pl.when(pl.col("_pref")).then(pref_ok).otherwise(sft_ok)
    else:
        order_ok = sft_ok
    chain = (
        pl.when(missing).then(pl.lit("missing_field"))
        .when(empty_conv).then(pl.lit("empty_conversation"))
        .when(unknown).then(pl.lit("unknown_role"))
        .when(bad_call).then(pl.lit("invalid_tool_call"))
        .when(bad_args).then(pl.lit("invalid_tool_arguments"))
    )
    if has["_bad_tools"]:
        chain = chain.when(pl.col("_bad_tools")).then(pl.lit("invalid_tools"))
    chain = chain.when(empty).then(pl.lit("empty_turn")).when(~order_ok.fill_null(False)).then(
        pl.lit("role_order")
    )
    return tmp.select(chain.otherwise(pl.lit(None, dtype=pl.String)).alias("reason"))["reason"]


# -- details for rejected rows (Python, rejected rows only) --------------------------------

_NEXT = {  # DFA of the role grammar: state -> {letter: next state}
    "start": {"s": "sys", "u": "user"},
    "sys": {"u": "user"},
    "user": {"a": "asst", "c": "call"},
    "call": {"t": "tool"},
    "tool": {"t": "tool", "a": "asst", "c": "call"},
    "asst": {"u": "user"},
}
_EXPECT = {
    "start": "a system or user turn",
    "sys": "a user turn",
    "user": "an assistant turn",
    "call": "a tool result",
    "tool": "another tool result or an assistant turn",
    "asst": "a user turn",
}
_NAMES = {"s": "system", "u": "user", "a": "assistant", "c": "assistant tool call", "t": "tool result"}


def _a(word: str) -> str:
    # "an assistant", but "a user" (the vowel letter sounds like "you")
    return ("an " if word[:1] in "aeio" else "a ") + word


def message_letter(m: dict[str, Any]) -> str:
    role = m.get("role")
    if role == "assistant" and m.get("tool_calls"):
        return "c"
    return ROLE_LETTERS.get(role or "", "?")


def first_bad_turn(seq: str, kind: str) -> tuple[int, str]:
    """Index of the first out-of-order turn in a role-letter string, and why.

    ``kind``: ``conversation`` (ends with an assistant turn), ``prompt`` (ends with a user
    turn or tool results) or ``continuation`` (starts like an answer, ends with assistant).
    """
    state = "user" if kind == "continuation" else "start"
    for i, ch in enumerate(seq):
        nxt = _NEXT[state].get(ch)
        if nxt is None:
            got = _NAMES.get(ch, "unknown")
            return i, f"turn {i} is {_a(got)} turn; expected {_EXPECT[state]}"
        if kind == "continuation" and ch == "u":
            return i, f"turn {i} is a user turn; a continuation holds only the answer"
        state = nxt
    finals = {"prompt": {"user", "tool"}}.get(kind, {"asst", "call"})
    if state not in finals:
        last = max(len(seq) - 1, 0)
        want = "a user turn (the preference prompt)" if kind == "prompt" else "an assistant turn"
        got = _NAMES.get(seq[-1], "unknown") if seq else "no"
        return last, f"ends with {_a(got)} turn; expected it to end with {want}"
    return -1, "turn order is valid"


def locate_problem(reason: str, rec: dict[str, Any]) -> tuple[str | None, int | None, str]:
    """Canonical (column, message index, part) of the first problem behind ``reason``."""
    is_pref = rec.get("chosen") is not None or rec.get("rejected") is not None
    lists = [c for c in LISTS if rec.get(c) is not None]
    if reason == "missing_field":
        if rec.get("messages") is None:
            return "messages", None, ""
        if (rec.get("chosen") is None) != (rec.get("rejected") is None):
            return ("rejected" if rec.get("rejected") is None else "chosen"), None, ""
        return "label", None, ""
    if reason == "invalid_tools":
        return "tools", None, ""
    if reason == "empty_conversation":
        return "messages", None, ""
    for col in lists:
        for i, m in enumerate(rec[col]):
            calls = m.get("tool_calls") or []
            if reason == "unknown_role" and message_letter(m) == "?":
                return col, i, "role"
            if reason == "invalid_tool_call" and any(not (c.get("name") or "").strip() for c in calls):
                return col, i, "tool_calls"
            if reason == "invalid_tool_arguments" and any(c.get("arguments") is None for c in calls):
                return col, i, "arguments"
            if reason == "empty_turn" and not (m.get("content") or "").strip():
                if not (m.get("role") == "assistant" and calls):
                    return col, i, "content"
    if reason == "role_order":
        kinds = {"messages": "prompt" if is_pref else "conversation", "chosen": "continuation", "rejected": "continuation"}
        for col in lists:
            seq = "".join(message_letter(m) for m in rec[col])
            idx, _ = first_bad_turn(seq, kinds[col])
            if idx >= 0:
                return col, idx, "role"
    return None, None, ""


def order_detail(rec: dict[str, Any], column: str) -> str:
    is_pref = rec.get("chosen") is not None or rec.get("rejected") is not None
    kind = "continuation" if column != "messages" else ("prompt" if is_pref else "conversation")
    seq = "".join(message_letter(m) for m in rec[column])
    return first_bad_turn(seq, kind)[1]
