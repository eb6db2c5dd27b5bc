"""JSON that must not reach Arrow or polars as it is: too deep, NaN/Infinity, lone surrogates.

* **Depth.** Arrow's JSON reader crashes the process (a C stack overflow, no exception)
  on a value nested ~20 000 levels deep, and polars on ~1 000 levels; Python's ``json``
  raises ``RecursionError`` past ~1 000. Rows nested deeper than :data:`MAX_DEPTH` are
  rejected (reason ``too_deep``), and a block holding a line with very many brackets is
  parsed by Python instead of Arrow (:func:`needs_python`).
* **NaN / Infinity** are not JSON, yet Arrow and Python's ``json`` both accept them, and
  the value would end up as null. The row is rejected (``invalid_json``).
* **Lone UTF-16 surrogates** (``"\\ud800"`` without its pair) parse in Python but cannot
  be written as UTF-8 text; the row is rejected (``invalid_json``).

Everything here runs only on the slow path or as cheap byte scans (substring searches,
bracket counts of long lines), so clean files pay a few percent of the parse.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any, Iterable

import numpy as np
import pyarrow as pa

#: deepest nesting of arrays/objects a row may have (real data stays far below:
#: a tool call inside a message inside a conversation is 5 levels)
MAX_DEPTH = 100
#: a line with at least this many ``[``/``{`` is not handed to Arrow (its crash depth is
#: far higher; legitimate lines with this many brackets are rare and only get slower)
ARROW_GUARD = 2000

# NaN/Infinity where a JSON value starts (after ":", "," or "["): a match inside a
# string only costs a detour through the slow path, which decides exactly (used on one
# line at a time, to say where the token is)
_NON_FINITE = re.compile(rb"[:,\[]\s*-?(?:NaN|Infinity)\b")


class NotJSON(ValueError):
    """A token Python's ``json`` accepts but JSON does not (NaN, Infinity)."""


def refuse_constant(name: str) -> Any:
    """``parse_constant`` hook for ``json.loads``: NaN/Infinity are errors."""
    raise NotJSON(f"{name} is not valid JSON (JSON has no NaN/Infinity: write null or a string)")


def constant_column(line: bytes) -> int:
    """1-based column (in characters) of the first NaN/Infinity token of a JSON line."""
    match = _NON_FINITE.search(line)
    start = match.start() + len(match.group()) - len(match.group().lstrip(b":,[ \t\r")) if match else 0
    return len(line[:start].decode("utf-8", "replace")) + 1


def _has_non_finite(block: bytes) -> bool:
    """A NaN/Infinity token where a JSON value starts (after ``:``, ``,`` or ``[``).

    Counting the tokens costs a few percent of Arrow's parse, one regex over the block
    about as much as the parse: so the regex runs only for text full of the words.
    """
    if block.find(b"NaN") < 0 and block.find(b"Infinity") < 0:  # the common case
        return False
    found = block.count(b"NaN") + block.count(b"Infinity")
    if found > 1000:
        return _NON_FINITE.search(block) is not None
    for token in (b"NaN", b"Infinity"):
        i = block.find(token)
        while i >= 0:
            j = i - 1
            if j >= 0 and block[j] == 0x2D:  # "-Infinity"
                j -= 1
            while j >= 0 and block[j] in b" \t\r":
                j -= 1
            if j >= 0 and block[j] in b":,[":
                return True
            i = block.find(token, i + 1)
    return False


def needs_python(block: bytes, line_ends: np.ndarray) -> bool:
    """True when a JSON Lines block must skip Arrow: a NaN/Infinity token, or a line with
    so many brackets that Arrow's recursive parser could overflow its stack."""
    if _has_non_finite(block):
        return True
    starts = np.concatenate(([0], line_ends[:-1] + 1)) if len(line_ends) else line_ends
    for i in np.flatnonzero(line_ends - starts >= ARROW_GUARD):  # shorter lines cannot hold that many
        s, e = int(starts[i]), int(line_ends[i])
        if block.count(b"[", s, e) + block.count(b"{", s, e) >= ARROW_GUARD:
            return True
    return False


def type_depth(t: pa.DataType) -> int:
    """Nesting depth of an Arrow type (a list of structs of strings is 2)."""
    if pa.types.is_struct(t):
        return 1 + max((type_depth(t.field(i).type) for i in range(t.num_fields)), default=0)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return 1 + type_depth(t.value_type)
    if pa.types.is_map(t):
        return 1 + max(type_depth(t.key_type), type_depth(t.item_type))
    return 0


def too_deep(schema: pa.Schema) -> bool:
    """True when a column of ``schema`` nests deeper than :data:`MAX_DEPTH` (the row
    itself is one level, as in :func:`problem`)."""
    return any(1 + type_depth(f.type) > MAX_DEPTH for f in schema)


def _lone_surrogate(text: str) -> str | None:
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        return f"\\u{ord(text[e.start]):04x}"
    return None


def path_str(parts: Iterable[Any]) -> str:
    """``['conversations', 2, 'from']`` -> ``conversations[2].from``."""
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _where(path: list[Any]) -> str:
    return path_str(path) or "row"


def _deep(path: list[Any]) -> tuple[str, str, str]:
    top = _where(path[:1])
    return "too_deep", top, f"{top} nests arrays/objects deeper than {MAX_DEPTH} levels"


def problem(obj: Any) -> tuple[str, str, str] | None:
    """``(reason, field, detail)`` for the first hazard in a parsed row, or None.

    Walks the row iteratively (a recursive walk would itself hit the recursion limit).
    """
    stack: list[tuple[Any, list[Any], int]] = [(obj, [], 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, dict):
            if depth > MAX_DEPTH:
                return _deep(path)
            for key, item in reversed(list(value.items())):
                bad = _lone_surrogate(key)
                if bad:
                    return "invalid_json", _where(path), (
                        f"key {key!r} at {_where(path)} holds a lone UTF-16 surrogate {bad}: not valid Unicode text"
                    )
                stack.append((item, path + [key], depth + 1))
        elif isinstance(value, list):
            if depth > MAX_DEPTH:
                return _deep(path)
            stack.extend((item, path + [i], depth + 1) for i, item in reversed(list(enumerate(value))))
        elif isinstance(value, str):
            bad = _lone_surrogate(value)
            if bad:
                return "invalid_json", _where(path), (
                    f"{_where(path)} holds a lone UTF-16 surrogate {bad}: not valid Unicode text"
                )
        elif isinstance(value, NonFinite):
            return "invalid_json", _where(path), (
                f"{_where(path)} is {value.token}: not valid JSON (JSON has no NaN/Infinity: write null or a string)"
            )
    return None


class NonFinite(float):
    """What ``json.loads`` gives for NaN/Infinity in a whole-file parse (JSON arrays), so
    the rows holding one are rejected instead of the whole file (``parse_constant`` hook;
    a float, so the rejected row's text still shows the token)."""

    __slots__ = ("token",)

    def __new__(cls, token: str) -> "NonFinite":
        new = super().__new__(cls, token.replace("Infinity", "inf"))
        new.token = token
        return new


class Number(float):
    """A JSON number with a fraction or exponent that remembers how it was written, so an
    ``id`` of ``1.10`` stays ``"1.10"`` (``parse_float`` hook)."""

    __slots__ = ("text",)

    def __new__(cls, text: str) -> "Number":
        new = super().__new__(cls, text)
        new.text = text
        return new


def dumps(obj: Any) -> str:
    """A parsed row as JSON text for the rejected table's ``raw`` column, whatever it holds.

    Lone surrogates are written as ``\\u`` escapes (UTF-8 cannot hold them); a row nested
    up to the parser's own limit is written with a recursion limit to match.
    """
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 5 * limit))
    try:
        text = json.dumps(obj, ensure_ascii=False)
        return text if _lone_surrogate(text) is None else json.dumps(obj)
    finally:
        sys.setrecursionlimit(limit)


def number_text(value: Any) -> str:
    """A JSON number as the text the user wrote (integers are exact in Python)."""
    return getattr(value, "text", None) or str(value)
