"""TRL unpaired preference (KTO): ``prompt`` / ``completion`` / ``label`` (bool).

Standard (strings) or conversational (message lists). In the canonical record the
completion is appended to ``messages`` and ``label`` says whether it is desirable.
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
    detection_keys = "`prompt` + `completion` + `label`"

    def detect(self, sample: Sample) -> bool:
        keys = sample.present
        return {"prompt", "completion", "label"} <= keys

    def plan(self, sample: Sample) -> Plan:
        conv = sample.kind("prompt") == "list" or sample.kind("completion") == "list"
        t = message_list_type(conv)
        schema = pa.schema(
            [pa.field("prompt", t), pa.field("completion", t), pa.field("label", pa.bool_()), pa.field("tools", pa.string())]
        )
        paths = (("tools",),) + (oa.json_text_paths("prompt") + oa.json_text_paths("completion") if conv else ())
        return Plan(self.name, schema, variant="conversational" if conv else "standard", json_text=paths)

    def to_canonical(self, raw: pl.DataFrame, plan: Plan) -> pl.DataFrame:
        conv = plan.variant == "conversational"
        tools, bad_tools = oa.tools_to_canonical(raw)
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
        if index is None:
            return "prompt" if raw.get("prompt") is None else "completion"
        if plan.variant != "conversational":
            return "prompt" if index == 0 else "completion"
        n_prompt = len(raw.get("prompt") or [])
        name, i = ("prompt", index) if index < n_prompt else ("completion", index - n_prompt)
        return oa.OpenAI().locate({name: raw.get(name)}, plan, name, i, part)

    def from_canonical(self, df: pl.DataFrame, **options: Any) -> Encoded:
        style = options.get("style", "conversational")
        if style not in ("conversational", "standard"):
            raise FormatError("kto option style must be 'conversational' or 'standard'")
        missing = df.filter(pl.col("label").is_null())["id"]
        if missing.len():
            raise capacity_error(self.name, "records without a label", missing, "Write `openai` or `sharegpt` instead.")
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
