"""Alpaca: ``instruction`` / ``input`` / ``output`` (+ ``system``, ``history``), as
LLaMA-Factory reads it; preference rows use ``chosen``/``rejected`` strings instead of
``output`` (``ranking: true``), KTO rows add ``kto_tag``.

The user turn is ``instruction`` and ``input`` joined by a newline (LLaMA-Factory does
the same), so the split between the two is not kept: the writer puts the whole user
turn in ``instruction`` and leaves ``input`` empty.
"""

from __future__ import annotations

from typing import Any

import polars as pl
import pyarrow as pa

from .. import messages as M
from ..base import Encoded, Format, Plan, Sample, capacity_error, register_format


@register_format
class Alpaca(Format):
    name = "alpaca"
    title = "Alpaca / LLaMA-Factory alpaca"
    detection_keys = "`instruction` + `output` (or `chosen`/`rejected`); input, system, history, kto_tag"

    def detect(self, sample: Sample) -> bool:
        keys = sample.present
        return "instruction" in keys and bool(keys & {"output", "chosen", "rejected"}) and sample.kind("instruction") == "str"

    def plan(self, sample: Sample) -> Plan:
        schema = pa.schema(
            [
                pa.field("instruction", pa.string()),
                pa.field("input", pa.string()),
                pa.field("output", pa.string()),
                pa.field("system", pa.string()),
                pa.field("history", pa.list_(pa.list_(pa.string()))),
                pa.field("chosen", pa.string()),
                pa.field("rejected", pa.string()),
                pa.field("kto_tag", pa.bool_()),
            ]
        )
        return Plan(self.name, schema)

    def to_canonical(self, raw: pl.DataFrame, plan: Plan) -> pl.DataFrame:
        instruction, inp, output = pl.col("instruction"), pl.col("input"), pl.col("output")
        user_text = (
            pl.when(M.nonblank(inp) & M.nonblank(instruction))
            .then(pl.concat_str([instruction, inp], separator="\n"))
            .when(M.nonblank(inp))
            .then(inp)
            .otherwise(instruction)
        )
        pair = pl.element()
        history = pl.col("history").list.eval(
            pl.concat_list(
                [
                    M.message("user", pair.list.get(0, null_on_oob=True)),
                    M.message("assistant", pair.list.get(1, null_on_oob=True)),
                ]
            ).explode()
        )
        system = pl.col("system")
        parts = [
            M.optional(M.message("system", system), M.nonblank(system)),
            history,
            M.one(M.message("user", user_text)),
            # no output and no chosen: an empty assistant turn, reported as `output is empty`
            M.optional(M.message("assistant", output), output.is_not_null() | pl.col("chosen").is_null()),
        ]

        def answer(col: str) -> pl.Expr:
            return pl.when(pl.col(col).is_not_null()).then(M.one(M.message("assistant", pl.col(col))))

        out = raw.select(
            *[p.alias(f"_m{i}") for i, p in enumerate(parts)],
            pl.lit(None, dtype=pl.String).alias("tools"),
            answer("chosen").alias("chosen"),
            answer("rejected").alias("rejected"),
            pl.col("kto_tag").alias("label"),
        )
        out = M.concat_columns(out, [f"_m{i}" for i in range(len(parts))], "messages")
        return out.select("messages", "tools", "chosen", "rejected", "label")

    def locate(self, raw: dict[str, Any], plan: Plan, column: str, index: int | None, part: str) -> str:
        if column == "label":
            return "kto_tag"
        if column in ("chosen", "rejected", "tools") or index is None:
            return "output" if column == "messages" and index is None else column
        offset = 1 if (raw.get("system") or "").strip() else 0
        if index < offset:
            return "system"
        j = index - offset
        history = raw.get("history") or []
        if j < 2 * len(history):
            return f"history[{j // 2}][{j % 2}]"
        if j == 2 * len(history):
            return "instruction"
        return "output"

    def unheld_fields(self, **options: Any) -> tuple[str, ...]:
        return ("name",)

    def from_canonical(self, df: pl.DataFrame, **options: Any) -> Encoded:
        with_tools = df.filter(
            pl.col("tools").is_not_null()
            | pl.col("messages").list.eval(M.field("role") == "tool").list.any().fill_null(False)
        )["id"]
        if with_tools.len():
            raise capacity_error(self.name, "tools or tool calls", with_tools, "Write `sharegpt` or `openai` instead.")
        letters = df.select(
            M.letters("messages").alias("m"),
            M.letters("chosen").fill_null("").alias("c"),
            M.letters("rejected").fill_null("").alias("r"),
            (pl.col("chosen").is_not_null() | pl.col("rejected").is_not_null()).alias("pref"),
        )
        shape_ok = pl.when(pl.col("pref")).then(
            pl.col("m").str.contains(r"^s?(?:ua)*u$") & (pl.col("c") == "a") & (pl.col("r") == "a")
        ).otherwise(pl.col("m").str.contains(r"^s?(?:ua)*ua$"))
        bad = df.filter(~letters.select(shape_ok.fill_null(False)).to_series())["id"]
        if bad.len():
            raise capacity_error(
                self.name, "conversations that are not (system) user/assistant pairs", bad,
                "Write `sharegpt` or `openai` instead.",
            )
        msgs = pl.col("messages")
        has_system = msgs.list.first().struct.field("role") == "system"
        body = pl.when(has_system).then(msgs.list.slice(1)).otherwise(msgs)
        is_pref = pl.col("chosen").is_not_null()
        # the last user turn of an SFT record is second to last; of a prompt, last
        last_user = pl.when(is_pref).then(body.list.last()).otherwise(body.list.get(-2, null_on_oob=True))
        n_history = pl.when(is_pref).then(body.list.len() - 1).otherwise(body.list.len() - 2)
        history = body.list.slice(0, n_history).list.eval(M.field("content")).list.eval(
            pl.element().reshape((-1, 2))
        ).cast(pl.List(pl.List(pl.String)))
        frame = df.select(
            last_user.struct.field("content").alias("instruction"),
            pl.lit("").alias("input"),
            pl.when(~is_pref).then(body.list.last().struct.field("content")).alias("output"),
            pl.when(has_system).then(msgs.list.first().struct.field("content")).alias("system"),
            pl.when(history.list.len() > 0).then(history).alias("history"),
            pl.col("chosen").list.first().struct.field("content").alias("chosen"),
            pl.col("rejected").list.first().struct.field("content").alias("rejected"),
            pl.col("label").alias("kto_tag"),
        )
        return Encoded(frame)
