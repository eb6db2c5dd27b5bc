"""ShareGPT: ``conversations`` of ``{from, value}`` turns, as LLaMA-Factory reads it.

Roles: ``human``/``user``, ``gpt``/``assistant``, ``system``, ``function_call`` (value is
``{"name": ..., "arguments": {...}}`` JSON), ``observation`` (a tool result). LLaMA-Factory's
variant adds a ``system`` column and a ``tools`` column (JSON text); preference rows carry
``chosen``/``rejected`` single turns, KTO rows a ``kto_tag``. Turns keyed ``role/content``
(or under ``messages``) read the same way.
"""

from __future__ import annotations

from typing import Any

import polars as pl
import pyarrow as pa

from .. import messages as M
from ..base import Encoded, Format, FormatError, Plan, Sample, capacity_error, register_format
from .openai import tools_to_canonical

ROLE_MAP = {
    "human": "user", "user": "user",
    "gpt": "assistant", "assistant": "assistant", "model": "assistant",
    "system": "system",
    "function_call": "assistant",
    "observation": "tool", "tool": "tool", "function": "tool",
}
SHAREGPT_ONLY_ROLES = {"human", "gpt", "function_call", "observation"}
OUT_ROLES = {"user": "human", "assistant": "gpt", "system": "system", "tool": "observation"}


def turn_keys(sample: Sample, key: str) -> tuple[str, str]:
    keys = sample.item_keys(key)
    return ("role", "content") if "role" in keys and "from" not in keys else ("from", "value")


def turn_type(role_key: str, content_key: str) -> pa.DataType:
    return pa.struct([pa.field(role_key, pa.string()), pa.field(content_key, pa.string())])


MAX_PARALLEL_CALLS = 8


def _calls(text: pl.Expr, is_call: pl.Expr, kinds: set[str]) -> pl.Expr:
    """Tool calls of a function_call turn: one ``{"name", "arguments"}`` object, or a list
    of up to :data:`MAX_PARALLEL_CALLS` (more -> an unnamed call, rejected as invalid).

    ``kinds`` says which call layouts occur in this shard (``one``, ``many``): polars
    evaluates every when/then branch for every turn, so absent layouts are left out.
    """
    if not kinds:
        return pl.lit(None, dtype=M.TOOL_CALLS_DTYPE)
    one_text = pl.when(is_call & ~text.str.strip_chars_start().str.starts_with("[")).then(text)
    single = M.one(M.tool_call(one_text.str.json_path_match("$.name"), one_text.str.json_path_match("$.arguments")))
    if "many" not in kinds:
        return pl.when(one_text.is_not_null()).then(single)
    many_text = pl.when(is_call & text.str.strip_chars_start().str.starts_with("[")).then(text)
    items = [
        pl.when(many_text.str.json_path_match(f"$[{k}]").is_not_null()).then(
            M.tool_call(many_text.str.json_path_match(f"$[{k}].name"), many_text.str.json_path_match(f"$[{k}].arguments"))
        )
        for k in range(MAX_PARALLEL_CALLS)
    ]
    overflow = pl.when(many_text.str.json_path_match(f"$[{MAX_PARALLEL_CALLS}]").is_not_null()).then(
        M.tool_call(pl.lit(None, dtype=pl.String), pl.lit(None, dtype=pl.String))
    )
    many = pl.concat_list(items + [overflow]).list.drop_nulls()
    return pl.when(one_text.is_not_null()).then(single).when(many_text.is_not_null()).then(many)


def call_kinds(raw: pl.DataFrame, column: str, role_key: str, content_key: str) -> set[str]:
    """Which function_call layouts (``one``/``many``) a turn-list column holds."""
    el = pl.element()
    is_call = el.struct.field(role_key) == "function_call"
    is_list = el.struct.field(content_key).str.strip_chars_start().str.starts_with("[")
    if isinstance(raw.schema[column], pl.List):
        col = pl.col(column).list
        row = raw.select(
            col.eval(is_call).list.any().any().alias("one"), col.eval(is_call & is_list).list.any().any().alias("many")
        ).row(0, named=True)
    else:
        c = pl.col(column)
        call = c.struct.field(role_key) == "function_call"
        row = raw.select(
            call.any().alias("one"), (call & c.struct.field(content_key).str.starts_with("[")).any().alias("many")
        ).row(0, named=True)
    return {k for k, v in row.items() if v}


def turn_to_message(
    role_key: str, content_key: str, element: pl.Expr | None = None, kinds: set[str] | frozenset[str] = frozenset({"one", "many"})
) -> pl.Expr:
    """One ShareGPT turn (struct) -> canonical message; unknown roles become null."""
    el = pl.element() if element is None else element
    who = el.struct.field(role_key)
    text = el.struct.field(content_key)
    is_call = who == "function_call"
    return M.message(
        who.replace_strict(ROLE_MAP, default=None, return_dtype=pl.String),
        pl.when(is_call).then(pl.lit(None, dtype=pl.String)).otherwise(text),
        tool_calls=_calls(text, is_call, set(kinds)),
    )


@register_format
class ShareGPT(Format):
    name = "sharegpt"
    title = "ShareGPT / LLaMA-Factory sharegpt"
    detection_keys = "`conversations` (or `messages`) of {from, value} turns; + system, tools, chosen/rejected, kto_tag"

    def detect(self, sample: Sample) -> bool:
        keys = sample.present
        if "conversations" in keys and sample.kind("conversations") == "list":
            return True
        if "messages" in keys and sample.kind("messages") == "list":
            items = sample.item_keys("messages")
            if "from" in items:
                return True
            roles = sample.item_values("messages", "role")
            return bool(roles & SHAREGPT_ONLY_ROLES)
        return False

    def plan(self, sample: Sample) -> Plan:
        key = "conversations" if "conversations" in sample.keys else "messages"
        role_key, content_key = turn_keys(sample, key)
        turn = turn_type(role_key, content_key)
        pair: pa.DataType = turn if sample.kind("chosen") != "list" else pa.list_(turn)
        schema = pa.schema(
            [
                pa.field(key, pa.list_(turn)),
                pa.field("system", pa.string()),
                pa.field("tools", pa.string()),
                pa.field("chosen", pair),
                pa.field("rejected", pair),
                pa.field("kto_tag", pa.bool_()),
            ]
        )
        return Plan(self.name, schema, variant=key, json_text=(("tools",),),
                    options={"role_key": role_key, "content_key": content_key, "key": key})

    def to_canonical(self, raw: pl.DataFrame, plan: Plan) -> pl.DataFrame:
        o = plan.options
        conv = pl.col(o["key"])
        rk, ck = o["role_key"], o["content_key"]
        turns = conv.list.eval(turn_to_message(rk, ck, kinds=call_kinds(raw, o["key"], rk, ck)))
        system = pl.col("system")
        system_turn = M.optional(M.message("system", system), M.nonblank(system))
        tools, bad_tools = tools_to_canonical(raw)

        def pair(col: str) -> pl.Expr:
            c = pl.col(col)
            kinds = call_kinds(raw, col, rk, ck)
            if isinstance(raw.schema[col], pl.List):
                return c.list.eval(turn_to_message(rk, ck, kinds=kinds))
            return pl.when(c.is_not_null()).then(M.one(turn_to_message(rk, ck, c, kinds)))

        out = raw.select(
            system_turn.alias("_m0"),
            turns.alias("_m1"),
            tools.alias("tools"),
            pair("chosen").alias("chosen"),
            pair("rejected").alias("rejected"),
            pl.col("kto_tag").alias("label"),
            bad_tools.alias("_bad_tools"),
            conv.is_null().alias("_no_conv"),
        )
        out = M.concat_columns(out, ["_m0", "_m1"], "messages")
        return out.select(
            pl.when(~pl.col("_no_conv")).then(pl.col("messages")).alias("messages"),
            "tools", "chosen", "rejected", "label", "_bad_tools",
        )

    def locate(self, raw: dict[str, Any], plan: Plan, column: str, index: int | None, part: str) -> str:
        o = plan.options
        key = o["role_key"] if part == "role" else o["content_key"]
        if column == "tools":
            return "tools"
        if column == "label":
            return "kto_tag"
        if column in ("chosen", "rejected"):
            if isinstance(raw.get(column), list):
                return column if index is None else f"{column}[{index}].{key}"
            return column if index is None else f"{column}.{key}"
        if index is None:
            return o["key"]
        offset = 1 if (raw.get("system") or "").strip() else 0
        if index < offset:
            return "system"
        return f"{o['key']}[{index - offset}].{key}"

    def unheld_fields(self, **options: Any) -> tuple[str, ...]:
        return ("name", "tool_call_id", "tool_calls.id")

    def from_canonical(self, df: pl.DataFrame, **options: Any) -> Encoded:
        system_as = options.get("system", "column")
        if system_as not in ("column", "turn"):
            raise FormatError("sharegpt option system must be 'column' or 'turn'")
        _check_holdable(df, self.name)
        first_is_system = pl.col("messages").list.first().struct.field("role") == "system"
        if system_as == "column":
            conv = pl.when(first_is_system).then(pl.col("messages").list.slice(1)).otherwise(pl.col("messages"))
            system = pl.when(first_is_system).then(pl.col("messages").list.first().struct.field("content"))
        else:
            conv, system = pl.col("messages"), pl.lit(None, dtype=pl.String)

        frame = df.select(
            conv.list.eval(message_to_turn()).alias("conversations"),
            system.alias("system"),
            pl.col("tools"),
            pl.col("chosen").list.first().pipe(_single_turn).alias("chosen"),
            pl.col("rejected").list.first().pipe(_single_turn).alias("rejected"),
            pl.col("label").alias("kto_tag"),
        )
        return Encoded(frame)


def message_to_turn(element: pl.Expr | None = None) -> pl.Expr:
    """Canonical message -> ``{from, value}``; tool calls become a function_call turn."""
    el = pl.element() if element is None else element
    calls = el.struct.field("tool_calls")
    one_call = M.call_json(calls.list.first())
    many = pl.concat_str([pl.lit("["), calls.list.eval(M.call_json(pl.element())).list.join(","), pl.lit("]")])
    is_call = M.has_calls(calls)
    return pl.struct(
        **{
            "from": pl.when(is_call).then(pl.lit("function_call")).otherwise(
                el.struct.field("role").replace_strict(OUT_ROLES, default=None, return_dtype=pl.String)
            ),
            "value": pl.when(is_call & (calls.list.len() == 1)).then(one_call)
            .when(is_call).then(many)
            .otherwise(el.struct.field("content")),
        }
    )


def _single_turn(msg: pl.Expr) -> pl.Expr:
    return pl.when(msg.is_not_null()).then(message_to_turn(msg))


def _check_holdable(df: pl.DataFrame, fmt: str) -> None:
    """ShareGPT can't hold assistant text next to a tool call, or multi-turn pairs."""
    text_and_call = pl.col("messages").list.eval(
        M.has_calls(M.field("tool_calls")) & M.nonblank(M.field("content"))
    ).list.any()
    bad = df.filter(text_and_call.fill_null(False))["id"]
    if bad.len():
        raise capacity_error(fmt, "assistant text alongside a tool call", bad, "Write `openai` (messages + tool_calls) instead.")
    multi = (pl.col("chosen").list.len().fill_null(0) > 1) | (pl.col("rejected").list.len().fill_null(0) > 1)
    bad = df.filter(multi)["id"]
    if bad.len():
        raise capacity_error(fmt, "chosen/rejected with more than one turn", bad, "Write `preference` (TRL conversational) instead.")
