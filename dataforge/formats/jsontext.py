"""Polars expressions over JSON *text* (tool arguments, tool lists, meta, output lines).

The canonical record keeps a few fields as JSON text (see ``schemas.record``). These
helpers validate, normalize and assemble such text column-wise, so no row ever goes
through ``json.loads``/``json.dumps`` on the common path.
"""

from __future__ import annotations

import json
import re
from typing import Iterable

import polars as pl


def normalize(expr: pl.Expr) -> pl.Expr:
    """Compact re-serialization of JSON text; null when the text is not valid JSON.

    ``json_path_match("$")`` parses the whole text and writes it back compactly, which
    both validates (trailing garbage, broken syntax -> null) and gives every reader the
    same spelling of the same value, so round trips compare equal.
    """
    return expr.str.json_path_match("$")


def normalize_object(expr: pl.Expr) -> pl.Expr:
    """Like :func:`normalize`, but only JSON objects survive (tool-call arguments).

    Normalizing twice also unwraps arguments that were JSON-encoded twice
    (``"{\"city\": \"Paris\"}"``), a common export bug, while a string that is not
    itself a JSON object still comes out null.
    """
    norm = normalize(normalize(expr))
    return pl.when(norm.str.starts_with("{")).then(norm)


def normalize_array(expr: pl.Expr) -> pl.Expr:
    """Like :func:`normalize` for tool lists: an array stays, one object becomes ``[obj]``."""
    norm = normalize(expr)
    return (
        pl.when(norm.str.starts_with("["))
        .then(norm)
        .when(norm.str.starts_with("{"))
        .then(pl.concat_str([pl.lit("["), norm, pl.lit("]")]))
    )


def value(expr: pl.Expr) -> pl.Expr:
    """JSON encoding of any polars value (string, number, list, struct...) as text.

    polars only JSON-encodes structs, so wrap the value in a one-field struct and cut
    the wrapper off again: ``{"v":<value>}`` -> ``<value>``.
    """
    return (
        pl.struct(expr.alias("v"))
        .struct.json_encode()
        .str.strip_prefix('{"v":')
        .str.strip_suffix("}")
    )


def member(key: str, text: pl.Expr) -> pl.Expr:
    """``"key":<text>`` where ``text`` is already JSON; null when ``text`` is null."""
    return pl.concat_str([pl.lit(json.dumps(key, ensure_ascii=False) + ":"), text])


def obj(members: Iterable[pl.Expr]) -> pl.Expr:
    """A JSON object from member expressions; null members are left out."""
    body = pl.concat_str(list(members), separator=",", ignore_nulls=True)
    return pl.concat_str([pl.lit("{"), body, pl.lit("}")])


def drop_null_members(text: pl.Expr, keys: Iterable[str]) -> pl.Expr:
    """Remove ``"key":null`` members (for the given keys) from compact JSON text.

    Safe on compact JSON: inside a string value every quote is escaped, so the
    patterns (which need bare quotes right after ``{`` or ``,``) only match real members.
    """
    names = sorted(set(keys))
    if not names:
        return text
    alt = "|".join(re.escape(k) for k in names)
    return text.str.replace_all(f',"(?:{alt})":null', "").str.replace_all(
        f'\\{{"(?:{alt})":null,?', "{"
    )


def splice(base: pl.Expr, extra: pl.Expr) -> pl.Expr:
    """Merge the members of JSON object ``extra`` into JSON object ``base`` (text level).

    Used to put ``meta`` keys back at the top level of an output row. Either side may
    be null; ``{}`` adds nothing.
    """
    extra_body = extra.str.strip_prefix("{").str.strip_suffix("}")
    joined = pl.concat_str(
        [base.str.strip_suffix("}"), pl.lit(","), extra_body, pl.lit("}")]
    )
    has_extra = extra.is_not_null() & (extra_body.str.len_bytes() > 0)
    base_empty = base == "{}"
    return (
        pl.when(~has_extra)
        .then(base)
        .when(base.is_null() | base_empty)
        .then(extra)
        .otherwise(joined)
    )
