"""OpenAI chat messages: ``messages`` of ``{role, content, name?, tool_calls?, tool_call_id?}``
plus a ``tools`` list, the layout of the OpenAI fine-tuning API and TRL's SFT datasets.

``tool_calls`` items are ``{id, type: "function", function: {name, arguments}}`` with
``arguments`` JSON text (objects are accepted and serialized). ``developer`` reads as
``system`` and the legacy ``function`` role as ``tool``.
"""

from __future__ import annotations

from typing import Any

import polars as pl
import pyarrow as pa

from ...schemas import record
from .. import jsontext
from .. import messages as M
from ..base import Encoded, Format, Plan, Sample, capacity_error, register_format

ROLE_MAP = {
    "system": "system", "developer": "system", "user": "user",
    "assistant": "assistant", "tool": "tool", "function": "tool",
}

TOOL_CALL_TYPE = pa.struct(
    [
        pa.field("id", pa.string()),
        pa.field("type", pa.string()),
        pa.field("function", pa.struct([pa.field("name", pa.string()), pa.field("arguments", pa.string())])),
    ]
)
#: the canonical message, with tool calls in OpenAI's ``{id, type, function}`` shape
MESSAGE_TYPE = pa.struct(
    [pa.field("tool_calls", pa.list_(TOOL_CALL_TYPE)) if f.name == "tool_calls" else f for f in record.MESSAGE_TYPE]
)


def json_text_paths(column: str) -> tuple[tuple[str, ...], ...]:
    """Where a message-list column keeps JSON text (tool-call arguments)."""
    return ((column, "*", "tool_calls", "*", "function", "arguments"),)


def to_message(element: pl.Expr | None = None) -> pl.Expr:
    """OpenAI message struct -> canonical message (unknown role -> null role)."""
    el = pl.element() if element is None else element
    calls = el.struct.field("tool_calls")
    fn = pl.element().struct.field("function")
    converted = calls.list.eval(
        M.tool_call(fn.struct.field("name"), fn.struct.field("arguments"), pl.element().struct.field("id"))
    )
    return M.message(
        el.struct.field("role").replace_strict(ROLE_MAP, default=None, return_dtype=pl.String),
        el.struct.field("content"),
        name=el.struct.field("name"),
        tool_calls=pl.when(M.has_calls(calls)).then(converted),
        tool_call_id=el.struct.field("tool_call_id"),
    )


def from_message(element: pl.Expr | None = None) -> pl.Expr:
    """Canonical message -> OpenAI message struct."""
    el = pl.element() if element is None else element
    calls = el.struct.field("tool_calls")
    call = pl.element()
    out_calls = calls.list.eval(
        pl.struct(
            id=call.struct.field("id"),
            type=pl.lit("function"),
            function=pl.struct(name=call.struct.field("name"), arguments=call.struct.field("arguments")),
        )
    )
    return pl.struct(
        role=el.struct.field("role"),
        content=el.struct.field("content"),
        name=el.struct.field("name"),
        tool_calls=out_calls,
        tool_call_id=el.struct.field("tool_call_id"),
    )


def tools_to_canonical(raw: pl.DataFrame) -> tuple[pl.Expr, pl.Expr]:
    """(canonical tools, bad-tools flag) from a raw ``tools`` text column."""
    given = M.nonblank(pl.col("tools"))
    tools = pl.when(given).then(jsontext.normalize_array(pl.col("tools")))
    return tools, given & tools.is_null()


@register_format
class OpenAI(Format):
    name = "openai"
    title = "OpenAI chat messages (TRL sft)"
    detection_keys = "`messages` of {role, content} (tool_calls, tool role, name) + optional `tools`"

    def detect(self, sample: Sample) -> bool:
        # a boolean `label` beside the messages is LLaMA-Factory's KTO layout (the kto format)
        return has_openai_messages(sample) and sample.kind("label") != "bool"

    def plan(self, sample: Sample) -> Plan:
        schema = pa.schema([pa.field("messages", pa.list_(MESSAGE_TYPE)), pa.field("tools", pa.string())])
        return Plan(self.name, schema, json_text=(("tools",), *json_text_paths("messages")))

    def to_canonical(self, raw: pl.DataFrame, plan: Plan) -> pl.DataFrame:
        tools, bad_tools = tools_to_canonical(raw)
        return raw.select(
            pl.col("messages").list.eval(to_message()).alias("messages"),
            tools.alias("tools"),
            bad_tools.alias("_bad_tools"),
        )

    def locate(self, raw: dict[str, Any], plan: Plan, column: str, index: int | None, part: str) -> str:
        if column == "tools" or index is None:
            return column
        suffix = {"role": "role", "content": "content", "tool_calls": "tool_calls", "arguments": "tool_calls"}[part]
        path = f"{column}[{index}].{suffix}"
        if part in ("arguments", "tool_calls"):
            calls = (raw.get(column) or [{}])[index].get("tool_calls") or []
            for j, c in enumerate(calls):
                fn = (c or {}).get("function") or {}
                if part == "tool_calls" and not (fn.get("name") or "").strip():
                    return f"{path}[{j}].function.name"
                if part == "arguments" and jsontext_invalid(fn.get("arguments")):
                    return f"{path}[{j}].function.arguments"
        return path

    def from_canonical(self, df: pl.DataFrame, **options: Any) -> Encoded:
        pairs = df.filter(pl.col("chosen").is_not_null() | pl.col("rejected").is_not_null())["id"]
        if pairs.len():
            raise capacity_error(self.name, "preference pairs", pairs, "Write `preference` or `sharegpt` instead.")
        labelled = df.filter(pl.col("label").is_not_null())["id"]
        if labelled.len():
            raise capacity_error(self.name, "KTO labels", labelled, "Write `kto` or `sharegpt` instead.")
        frame = df.select(pl.col("messages").list.eval(from_message()).alias("messages"), pl.col("tools"))
        return Encoded(frame, frozenset({"tools"}))


def has_openai_messages(sample: Sample) -> bool:
    """A ``messages`` list of ``{role, content}`` turns with OpenAI roles (not ShareGPT's,
    not the canonical record, not a preference or KTO prompt/completion layout)."""
    keys = sample.present
    if "messages" not in keys or sample.kind("messages") != "list":
        return False
    if keys & {"chosen", "rejected", "completion", "conversations"}:
        return False
    items = sample.item_keys("messages")
    roles = sample.item_values("messages", "role")
    from .sharegpt import SHAREGPT_ONLY_ROLES

    return "role" in items and "from" not in items and not (roles & SHAREGPT_ONLY_ROLES) and not _is_canonical(keys)


def jsontext_invalid(value: Any) -> bool:
    """Python twin of ``jsontext.normalize_object`` for locating the bad call in a row."""
    import json

    if not isinstance(value, str):
        return True
    try:
        parsed = json.loads(value)
    except ValueError:
        return True
    if isinstance(parsed, str):
        return jsontext_invalid(parsed)
    return not isinstance(parsed, dict)


def _is_canonical(keys: set[str]) -> bool:
    return set(record.COLUMNS) <= keys
