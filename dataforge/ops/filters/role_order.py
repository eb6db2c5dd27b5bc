"""filter.role_order: reject records whose roles are out of order."""

from __future__ import annotations

import polars as pl
from pydantic import Field

from ...formats.messages import letters
from ...formats.readers.validate import SFT_ORDER
from ..base import Operator, OpConfig, OpResult, register_op
from ._common import reject, found_rows


#: Role letters (``formats.messages.letters``): s system, u user, a assistant, c assistant
#: turn with tool calls, t tool, ? unknown.
#: A complete conversation: optional system, then user turns each answered by the
#: assistant, where an answer may first go through tool-call rounds (c, then t...); the
#: last answer may be a tool call itself (function-calling data whose target is the call).
_COMPLETE = SFT_ORDER  # the readers' grammar (formats.readers.validate): s?u((ct+)*au)*(ct+)*[ac]
#: The same, but it may stop anywhere after a user turn or tool result (prompt-only data).
_OPEN = r"^s?(?:u(?:ct+)*a)*(?:u(?:ct+)*c?)?$"
_DIAGNOSES: list[tuple[str, str]] = [
    (r"[^suact]", "unknown role"),
    (r".s", "system turn not first"),
    (r"^s?$", "no user turn"),
    (r"^s?[^u]", "does not start with a user turn"),
    (r"uu", "two user turns in a row"),
    (r"(?:^|[^ct])t", "tool result without a tool call before it"),
    (r"a[ac]", "two assistant turns in a row"),
    (r"c[^t]", "tool call without a tool result"),
    (r"tu", "user turn before the assistant answered the tool results"),
    (r"[^ac]$", "does not end with an assistant turn"),
]


def _diagnose(seq: pl.Expr) -> pl.Expr:
    out = pl.lit("roles out of order")
    for pattern, problem in reversed(_DIAGNOSES):
        out = pl.when(seq.str.contains(pattern)).then(pl.lit(problem)).otherwise(out)
    return out


@register_op
class RoleOrderFilter(Operator):
    """Reject records whose roles are out of order (role letters per record, one regex)."""

    name = "filter.role_order"

    class Config(OpConfig):
        require_final_assistant: bool = Field(
            True,
            description="conversations must end with an assistant turn (false for prompt-only data; "
            "messages + chosen/rejected of preference records must always)",
        )

    def process(self, records: pl.DataFrame) -> OpResult:
        grammar = _COMPLETE if self.config.require_final_assistant else _OPEN
        m, c, r = letters("messages"), letters("chosen"), letters("rejected")
        pref = pl.col("chosen").is_not_null() | pl.col("rejected").is_not_null()
        seqs = records.select(
            pl.int_range(pl.len(), dtype=pl.Int64).alias("row"),
            pl.when(pref).then(pl.concat_str([m, c])).otherwise(m).alias("s1"),
            pl.when(pref).then(pl.concat_str([m, r])).alias("s2"),
            pref.alias("pref"),
        )
        s1_ok = (
            pl.when(pl.col("pref"))
            .then(pl.col("s1").str.contains(_COMPLETE))
            .otherwise(pl.col("s1").str.contains(grammar))
        )
        s2_ok = pl.col("s2").str.contains(_COMPLETE)
        bad = seqs.with_columns(
            pl.when(~s1_ok.fill_null(False)).then(pl.col("s1"))
            .when(pl.col("pref") & ~s2_ok.fill_null(False)).then(pl.col("s2")).alias("seq"),
            pl.when(~s1_ok.fill_null(False))
            .then(pl.when(pl.col("pref")).then(pl.lit("messages+chosen")).otherwise(pl.lit("messages")))
            .otherwise(pl.lit("messages+rejected")).alias("field"),
        ).filter(pl.col("seq").is_not_null())
        found = found_rows(
            bad, "role_order", pl.format("roles '{}': {}", pl.col("seq"), _diagnose(pl.col("seq"))),
            pl.col("field"),
        )
        return reject(self, records, found, {})
