"""TRL preference data: ``prompt`` / ``chosen`` / ``rejected``.

Two layouts, picked from the data: *standard* (three strings) and *conversational*
(three message lists, OpenAI message shape). Without a ``prompt`` column (TRL's implicit
prompt) the prompt is the longest common prefix of the chosen and rejected conversations.
LLaMA-Factory's ranking data is read by the ``alpaca`` and ``sharegpt`` adapters.
"""

from __future__ import annotations

from typing import Any

import polars as pl
import pyarrow as pa

from .. import messages as M
from . import openai as oa
from ..base import Encoded, Format, FormatError, Plan, Sample, capacity_error, register_format


def _conversational(sample: Sample, keys: tuple[str, ...]) -> bool:
    return any(sample.kind(k) == "list" for k in keys)


def message_list_type(conversational: bool) -> pa.DataType:
    return pa.list_(oa.MESSAGE_TYPE) if conversational else pa.string()


def side(col: str, conversational: bool, role: str) -> pl.Expr:
    """A raw prompt/answer column -> canonical message list."""
    if conversational:
        return pl.col(col).list.eval(oa.to_message())
    return pl.when(pl.col(col).is_not_null()).then(M.one(M.message(role, pl.col(col))))


def common_prefix_len(df: pl.DataFrame, a: str, b: str) -> pl.Series:
    """Per row, how many leading messages two message-list columns share (vectorized)."""
    idx = pl.int_range(pl.len(), dtype=pl.UInt32).alias("_row")
    left = df.select(idx, pl.col(a).alias("_m")).explode("_m").with_columns(pl.int_range(pl.len()).over("_row").alias("_pos"))
    right = df.select(idx, pl.col(b).alias("_n")).explode("_n").with_columns(pl.int_range(pl.len()).over("_row").alias("_pos"))
    pairs = left.join(right, on=["_row", "_pos"], how="inner")
    first_diff = (
        pairs.filter(~pl.col("_m").eq_missing(pl.col("_n")))
        .group_by("_row").agg(pl.col("_pos").min().alias("_k"))
    )
    shortest = df.select(idx, pl.min_horizontal(pl.col(a).list.len(), pl.col(b).list.len()).fill_null(0).alias("_min"))
    out = shortest.join(first_diff, on="_row", how="left").sort("_row")
    return out.select(pl.coalesce("_k", "_min").cast(pl.Int64)).to_series()


@register_format
class Preference(Format):
    name = "preference"
    title = "TRL preference (prompt/chosen/rejected)"
    detection_keys = "`chosen` + `rejected` (+ `prompt`), strings or message lists"

    def detect(self, sample: Sample) -> bool:
        keys = sample.present
        if not {"chosen", "rejected"} <= keys or keys & {"instruction", "conversations", "messages"}:
            return False
        return sample.kind("chosen") in ("str", "list")

    def plan(self, sample: Sample) -> Plan:
        conv = _conversational(sample, ("prompt", "chosen", "rejected"))
        implicit = bool(sample.values("chosen")) and not sample.values("prompt")
        if implicit and not conv:
            raise FormatError("preference data without a `prompt` column must be conversational (message lists)")
        t = message_list_type(conv)
        schema = pa.schema(
            [pa.field("prompt", t), pa.field("chosen", t), pa.field("rejected", t), pa.field("tools", pa.string())]
        )
        paths = (("tools",),)
        if conv:
            paths += oa.json_text_paths("prompt") + oa.json_text_paths("chosen") + oa.json_text_paths("rejected")
        variant = ("conversational" if conv else "standard") + ("-implicit" if implicit else "")
        return Plan(self.name, schema, variant=variant, json_text=paths)

    def to_canonical(self, raw: pl.DataFrame, plan: Plan) -> pl.DataFrame:
        conv = plan.variant.startswith("conversational")
        tools, bad_tools = oa.tools_to_canonical(raw)
        out = raw.select(
            side("prompt", conv, "user").alias("messages"),
            tools.alias("tools"),
            side("chosen", conv, "assistant").alias("chosen"),
            side("rejected", conv, "assistant").alias("rejected"),
            pl.lit(None, dtype=pl.Boolean).alias("label"),
            bad_tools.alias("_bad_tools"),
        )
        if plan.variant.endswith("-implicit"):
            k = common_prefix_len(out, "chosen", "rejected")
            out = out.with_columns(k.alias("_k")).with_columns(
                pl.col("chosen").list.slice(0, pl.col("_k")).alias("messages"),
                pl.col("chosen").list.slice(pl.col("_k")).alias("chosen"),
                pl.col("rejected").list.slice(pl.col("_k")).alias("rejected"),
            ).drop("_k")
        return out

    def locate(self, raw: dict[str, Any], plan: Plan, column: str, index: int | None, part: str) -> str:
        name = {"messages": "prompt"}.get(column, column)
        if index is None or not plan.variant.startswith("conversational"):
            return name
        if plan.variant.endswith("-implicit") and column != "messages":
            index += _prefix(raw)
        if plan.variant.endswith("-implicit") and column == "messages":
            name = "chosen"
        return oa.OpenAI().locate({name: raw.get(name)}, plan, name, index, part)

    def unheld_fields(self, **options: Any) -> tuple[str, ...]:
        return ("name",) if options.get("style") == "standard" else ()  # strings have no turn names

    def from_canonical(self, df: pl.DataFrame, **options: Any) -> Encoded:
        style = options.get("style", "conversational")
        if style not in ("conversational", "standard"):
            raise FormatError("preference option style must be 'conversational' or 'standard'")
        missing = df.filter(pl.col("chosen").is_null() | pl.col("rejected").is_null())["id"]
        if missing.len():
            raise capacity_error(self.name, "records without chosen/rejected", missing, "Write `openai` or `sharegpt` instead.")
        if style == "conversational":
            frame = df.select(
                pl.col("messages").list.eval(oa.from_message()).alias("prompt"),
                pl.col("chosen").list.eval(oa.from_message()),
                pl.col("rejected").list.eval(oa.from_message()),
                pl.col("tools"),
            )
            return Encoded(frame, frozenset({"tools"}))
        return Encoded(standard_frame(df, self.name, {"chosen": "chosen", "rejected": "rejected"}))


def standard_frame(df: pl.DataFrame, fmt: str, answers: dict[str, str]) -> pl.DataFrame:
    """TRL standard layout: one user turn as ``prompt`` text, single assistant answers."""
    shape = pl.col("messages").list.len() == 1
    shape &= pl.col("messages").list.first().struct.field("role") == "user"
    for col in answers:
        shape &= pl.col(col).list.len() == 1
        shape &= pl.col(col).list.first().struct.field("role") == "assistant"
        shape &= ~M.has_calls(pl.col(col).list.first().struct.field("tool_calls"))
    bad = df.filter(~shape.fill_null(False) | pl.col("tools").is_not_null())["id"]
    if bad.len():
        raise capacity_error(fmt, "system turns, multi-turn prompts or tools in the standard (string) style", bad,
                             "Use style='conversational'.")
    return df.select(
        pl.col("messages").list.first().struct.field("content").alias("prompt"),
        *[pl.col(c).list.first().struct.field("content").alias(out) for c, out in answers.items()],
    )


def _prefix(raw: dict[str, Any]) -> int:
    chosen, rejected = raw.get("chosen") or [], raw.get("rejected") or []
    k = 0
    while k < min(len(chosen), len(rejected)) and chosen[k] == rejected[k]:
        k += 1
    return k
