"""Glaive function-calling text (glaiveai/glaive-function-calling-v2 style).

``system``: ``SYSTEM: <prompt> -\\n{function json}\\n\\n{function json}``;
``chat``: ``USER: ... ASSISTANT: <functioncall> {"name": ..., "arguments": '{...}'}
<|endoftext|> FUNCTION RESPONSE: {...} ASSISTANT: ... <|endoftext|>``.

The layout is free text, so this adapter parses and renders row by row in Python (a
niche format; the common ones are column expressions). Tool-call arguments still go
through the same JSON normalization as every other format.
"""

from __future__ import annotations

import json
import re
from typing import Any

import polars as pl
import pyarrow as pa

from ...schemas.record import MESSAGE_DTYPE, message
from .. import jsontext
from .. import messages as M
from ..base import Encoded, Format, Plan, Sample, capacity_error, register_format

MARKER = re.compile(r"(?:^|\n)[ \t]*(USER|ASSISTANT|FUNCTION RESPONSE):[ \t]?")
END = "<|endoftext|>"
CALL = "<functioncall>"
ROLES = {"USER": "user", "ASSISTANT": "assistant", "FUNCTION RESPONSE": "tool"}
SINGLE_QUOTED_ARGS = re.compile(r"""("arguments"\s*:\s*)'(.*)'(\s*\}\s*)$""", re.S)


def parse_system(text: str | None) -> tuple[str, str | None, bool]:
    """-> (system prompt, tools JSON array text or None, tools unparseable)."""
    body = (text or "").strip()
    body = body[len("SYSTEM:"):].strip() if body.startswith("SYSTEM:") else body
    at = 0 if body.startswith("{") else body.find("\n{")
    if at < 0:
        return body, None, False
    prompt, rest = body[:at].strip(), body[at:]
    dec, i, funcs = json.JSONDecoder(), 0, []
    while True:
        while i < len(rest) and rest[i].isspace():
            i += 1
        if i >= len(rest):
            break
        try:
            obj, i = dec.raw_decode(rest, i)
        except ValueError:
            return prompt, None, True
        funcs.append(obj)
    return prompt, json.dumps(funcs, ensure_ascii=False), False


def parse_call(text: str) -> dict[str, Any]:
    """``{"name": "f", "arguments": '{...}'}`` (glaive quotes arguments) -> tool call dict."""
    fixed = SINGLE_QUOTED_ARGS.sub(lambda m: m.group(1) + json.dumps(m.group(2)) + m.group(3), text.strip())
    try:
        call = json.loads(fixed)
    except ValueError:
        return {"id": None, "name": None, "arguments": None}
    if not isinstance(call, dict):
        return {"id": None, "name": None, "arguments": None}
    args = call.get("arguments")
    if args is not None and not isinstance(args, str):
        args = json.dumps(args, ensure_ascii=False)
    return {"id": None, "name": call.get("name"), "arguments": args}


def parse_chat(chat: str | None) -> list[dict[str, Any]] | None:
    if chat is None:
        return None
    parts = MARKER.split(chat)
    out = []
    if parts[0].strip():  # text before the first role marker
        out.append(message(None, parts[0].strip()))  # type: ignore[arg-type]
    for marker, body in zip(parts[1::2], parts[2::2]):
        text = body.strip()
        if text.endswith(END):
            text = text[: -len(END)].rstrip()
        role = ROLES[marker]
        if role == "assistant" and text.startswith(CALL):
            out.append(message("assistant", None, tool_calls=[parse_call(text[len(CALL):])]))
        else:
            out.append(message(role, text))
    return out


@register_format
class Glaive(Format):
    name = "glaive"
    title = "Glaive function calling (text)"
    detection_keys = "`system` (SYSTEM: ...) + `chat` (USER: ... ASSISTANT: ...)"

    def detect(self, sample: Sample) -> bool:
        chats = sample.values("chat")
        return bool(chats) and isinstance(chats[0], str) and "USER:" in chats[0]

    def plan(self, sample: Sample) -> Plan:
        return Plan(self.name, pa.schema([pa.field("system", pa.string()), pa.field("chat", pa.string())]))

    def to_canonical(self, raw: pl.DataFrame, plan: Plan) -> pl.DataFrame:
        rows = []
        for system, chat in zip(raw["system"].to_list(), raw["chat"].to_list()):
            prompt, tools, bad_tools = parse_system(system)
            msgs = parse_chat(chat)
            if msgs is not None and prompt:
                msgs = [message("system", prompt)] + msgs
            rows.append({"messages": msgs, "tools": tools, "_bad_tools": bad_tools})
        frame = pl.DataFrame(
            rows, schema={"messages": pl.List(MESSAGE_DTYPE), "tools": pl.String, "_bad_tools": pl.Boolean}
        )
        calls = pl.element().struct.field("tool_calls").list.eval(
            pl.element().struct.with_fields(jsontext.normalize_object(pl.element().struct.field("arguments")).alias("arguments"))
        )
        return frame.select(
            pl.col("messages").list.eval(pl.element().struct.with_fields(calls.alias("tool_calls"))),
            jsontext.normalize_array(pl.col("tools")).alias("tools"),
            pl.lit(None, dtype=pl.List(MESSAGE_DTYPE)).alias("chosen"),
            pl.lit(None, dtype=pl.List(MESSAGE_DTYPE)).alias("rejected"),
            pl.lit(None, dtype=pl.Boolean).alias("label"),
            pl.col("_bad_tools"),
        )

    def locate(self, raw: dict[str, Any], plan: Plan, column: str, index: int | None, part: str) -> str:
        if column == "tools":
            return "system"
        if index is None:
            return "chat"
        has_system = bool(parse_system(raw.get("system"))[0])
        if has_system and index == 0:
            return "system"
        return f"chat[turn {index - int(has_system)}]"

    def unheld_fields(self, **options: Any) -> tuple[str, ...]:
        return ("name", "tool_call_id", "tool_calls.id")

    def from_canonical(self, df: pl.DataFrame, **options: Any) -> Encoded:
        bad = df.filter(
            pl.col("chosen").is_not_null() | pl.col("rejected").is_not_null() | pl.col("label").is_not_null()
        )["id"]
        if bad.len():
            raise capacity_error(self.name, "preference pairs or KTO labels", bad, "Write `sharegpt` instead.")
        multi = pl.col("messages").list.eval(
            (M.field("tool_calls").list.len().fill_null(0) > 1)
            | (M.has_calls(M.field("tool_calls")) & M.nonblank(M.field("content")))
        ).list.any()
        bad = df.filter(multi.fill_null(False))["id"]
        if bad.len():
            raise capacity_error(self.name, "parallel tool calls or text next to a tool call", bad, "Write `openai` instead.")
        systems, chats = [], []
        for msgs, tools in zip(df["messages"].to_list(), df["tools"].to_list()):
            prompt = msgs[0]["content"] if msgs and msgs[0]["role"] == "system" else ""
            body = msgs[1:] if prompt or (msgs and msgs[0]["role"] == "system") else msgs
            systems.append(render_system(prompt, tools))
            chats.append(render_chat(body))
        return Encoded(pl.DataFrame({"system": systems, "chat": chats}, schema={"system": pl.String, "chat": pl.String}))


def render_system(prompt: str, tools: str | None) -> str:
    if not tools:
        return f"SYSTEM: {prompt}" if prompt else ""
    funcs = "\n\n".join(json.dumps(f, ensure_ascii=False, indent=4) for f in json.loads(tools))
    return f"SYSTEM: {prompt}\n{funcs}"


def render_chat(msgs: list[dict[str, Any]]) -> str:
    out = []
    for m in msgs:
        if m["role"] == "user":
            out.append(f"USER: {m['content']}")
        elif m["role"] == "tool":
            out.append(f"FUNCTION RESPONSE: {m['content']}")
        elif m.get("tool_calls"):
            call = m["tool_calls"][0]
            name = json.dumps(call["name"], ensure_ascii=False)
            out.append(f"ASSISTANT: {CALL} {{\"name\": {name}, \"arguments\": '{call['arguments']}'}} {END}")
        else:
            out.append(f"ASSISTANT: {m['content']} {END}")
    return "\n\n\n".join(out) + ("\n\n\n" if out else "")
