"""The canonical record itself as a file format (Parquet normally; JSONL works too).

Reading it still validates every row, so a hand-edited or foreign canonical file gets
the same located rejections as any other input.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from ...schemas.record import CANONICAL_SCHEMA, COLUMNS
from .. import jsontext
from ..base import Encoded, Format, Plan, Sample, register_format


@register_format
class Canonical(Format):
    name = "canonical"
    title = "canonical record (this toolkit)"
    detection_keys = "exactly the canonical columns: " + ", ".join(COLUMNS)
    carries_record_fields = True

    def detect(self, sample: Sample) -> bool:
        return set(COLUMNS) <= sample.keys

    def plan(self, sample: Sample) -> Plan:
        fields = [f for f in CANONICAL_SCHEMA if f.name not in ("id", "source", "meta")]
        import pyarrow as pa

        return Plan(self.name, pa.schema(fields), json_text=(("tools",),))

    def to_canonical(self, raw: pl.DataFrame, plan: Plan) -> pl.DataFrame:
        args = pl.element().struct.field("arguments")
        fix_calls = pl.element().struct.with_fields(
            pl.element().struct.field("tool_calls").list.eval(
                pl.element().struct.with_fields(jsontext.normalize_object(args).alias("arguments"))
            ).alias("tool_calls")
        )
        given = pl.col("tools").is_not_null()
        tools = pl.when(given).then(jsontext.normalize_array(pl.col("tools")))
        return raw.select(
            pl.col("messages").list.eval(fix_calls),
            tools.alias("tools"),
            pl.col("chosen").list.eval(fix_calls),
            pl.col("rejected").list.eval(fix_calls),
            pl.col("label"),
            (given & tools.is_null()).alias("_bad_tools"),
        )

    def from_canonical(self, df: pl.DataFrame, **options: Any) -> Encoded:
        return Encoded(df.select(COLUMNS))
