"""Unpaired preference (KTO): TRL's ``prompt`` / ``completion`` / ``label``, or
LLaMA-Factory's ``messages`` / ``label``.

TRL's layout is standard (strings) or conversational (message lists); in the canonical
record the completion is appended to ``messages``. LLaMA-Factory's layout (its
``kto_en_demo.json``: OpenAI-style ``messages`` and a boolean ``label`` judging the last
assistant turn) is the *messages* variant, read as is and written with
``style=messages``. ``label`` says whether the last assistant answer is desirable.
LLaMA-Factory's ``kto_tag`` column is read by the ``alpaca`` and ``sharegpt`` adapters.
"""

from __future__ import annotations

from typing import Any

import polars as pl
import pyarrow as pa

from .. import messages as M
from . import openai as oa
from ..base import Encoded, Format, FormatError, Plan, Sample, capacity_error, register_format
from .preference import message_list_type, side, standard_frame


@register_format
class KTO(Format):
    name = "kto"
    title = "TRL unpaired preference (KTO)"
    detection_keys = "`prompt` + `completion` + `label`, or `messages` of {role, content} + boolean `label` (LLaMA-Factory)"

    def detect(self, sample: Sample) -> bool:
        keys = sample.present
        if {"prompt", "completion", "label"} <= keys:
            return True
        return oa.has_openai_messages(sample) and sample.kind("label") == "bool"

    def plan(self, sample: Sample) -> Plan:
        if "messages" in sample.present and not sample.present & {"prompt", "completion"}:
            schema = pa.schema(
                [pa.field("messages", pa.list_(oa.MESSAGE_TYPE)), pa.field("label", pa.bool_()), pa.field("tools", pa.string())]
            )
            return Plan(self.name, schema, variant="messages", json_text=(("tools",), *oa.json_text_paths("messages")))
        conv = sample.kind("prompt") == "list" or sample.kind("completion") == "list"
        t = message_list_type(conv)
        schema = pa.schema(
            [pa.field("prompt", t), pa.field("completion", t), pa.field("label", pa.bool_()), pa.field("tools", pa.string())]
        )
        paths = (("tools",),) + (oa.json_text_paths("prompt") + oa.json_text_paths("completion") if conv else ())
        return Plan(self.name, schema, variant="conversational" if conv else "standard", json_text=paths)

    def to_canonical(self, raw: pl.DataFrame, plan: Plan) -> pl.DataFrame:
        tools, bad_tools = oa.tools_to_canonical(raw)
        if plan.variant == "messages":
            return raw.select(
                pl.col("messages").list.eval(oa.to_message()).alias("messages"),
                tools.alias("tools"),
                pl.col("label"),
                bad_tools.alias("_bad_tools"),
                pl.col("label").is_null().alias("_missing_label"),
            )
        conv = plan.variant == "conversational"
        prompt, completion = side("prompt", conv, "user"), side("completion", conv, "assistant")
        out = raw.select(
            prompt.alias("_m0"),
            completion.alias("_m1"),
            (prompt.is_null() | completion.is_null()).alias("_missing"),
            tools.alias("tools"),
            pl.col("label"),
            bad_tools.alias("_bad_tools"),
            pl.col("label").is_null().alias("_missing_label"),
        )
        out = M.concat_columns(out, ["_m0", "_m1"], "messages")
        return out.select(
            pl.when(~pl.col("_missing")).then(pl.col("messages")).alias("messages"),
            "tools", "label", "_bad_tools", "_missing_label",
        )

    def locate(self, raw: dict[str, Any], plan: Plan, column: str, index: int | None, part: str) -> str:
        if column == "label":
            return "label"
        if column == "tools":
            return "tools"
        if plan.variant == "messages":
            return oa.OpenAI().locate(raw, plan, column, index, part)
        if index is None:
            return "prompt" if raw.get("prompt") is None else "completion"
        if plan.variant != "conversational":
            return "prompt" if index == 0 else "completion"
        n_prompt = len(raw.get("prompt") or [])
        name, i = ("prompt", index) if index < n_prompt else ("completion", index - n_prompt)
        return oa.OpenAI().locate({name: raw.get(name)}, plan, name, i, part)

    def unheld_fields(self, **options: Any) -> tuple[str, ...]:
        return ("name",) if options.get("style") == "standard" else ()  # strings have no turn names

    def from_canonical(self, df: pl.DataFrame, **options: Any) -> Encoded:
        style = options.get("style", "conversational")
        if style not in ("conversational", "standard", "messages"):
            raise FormatError(f"kto option style must be 'conversational', 'standard' or 'messages', got {style!r}")
        missing = df.filter(pl.col("label").is_null())["id"]
        if missing.len():
            raise capacity_error(self.name, "records without a label", missing, "Write `openai` or `sharegpt` instead.")
        if style == "messages":  # LLaMA-Factory's layout: the whole conversation + label
            frame = df.select(pl.col("messages").list.eval(oa.from_message()), pl.col("label"), pl.col("tools"))
            return Encoded(frame, frozenset({"tools"}))
        # the completion is everything after the last user turn
        letters = M.letters("messages")
        split = pl.col("messages").list.len() - letters.str.reverse().str.find("u").fill_null(0)
        parts = df.with_columns(split.alias("_k")).select(
            pl.col("id"),
            pl.col("messages").list.slice(0, pl.col("_k")).alias("messages"),
            pl.col("messages").list.slice(pl.col("_k")).alias("completion"),
            pl.col("tools"),
            pl.col("label"),
        )
        if style == "conversational":
            frame = parts.select(
                pl.col("messages").list.eval(oa.from_message()).alias("prompt"),
                pl.col("completion").list.eval(oa.from_message()),
                pl.col("label"),
                pl.col("tools"),
            )
            return Encoded(frame, frozenset({"tools"}))
        frame = standard_frame(parts, self.name, {"completion": "completion"})
        return Encoded(frame.with_columns(parts["label"]))
