"""The canonical record schema and its helpers."""

from __future__ import annotations

import polars as pl
import pyarrow as pa
import pytest

from dataforge.schemas import CANONICAL_SCHEMA, POLARS_SCHEMA, conform, from_dicts, message, to_arrow
from dataforge.schemas.record import records, with_content_ids


def _tool_record() -> dict:
    return {
        "messages": [
            message("system", "你是一个医疗助手。"),
            message("user", "北京今天天气怎么样？"),
            message("assistant", None, tool_calls=[{"id": "c1", "name": "get_weather", "arguments": '{"city": "北京"}'}]),
            message("tool", '{"temp": 21}', tool_call_id="c1", name="get_weather"),
            message("assistant", "北京今天21度。"),
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
        "meta": {"origin": "test"},
    }


def test_from_dicts_builds_exact_schema_and_ids():
    df = from_dicts([_tool_record(), {"messages": [message("user", "hi"), message("assistant", "hello")]}])
    assert df.schema == pl.Schema(POLARS_SCHEMA)
    assert df["id"].null_count() == 0
    assert df["id"].n_unique() == 2
    table = to_arrow(df)
    assert table.schema.equals(CANONICAL_SCHEMA)
    # tool calls and JSON text fields survive
    msgs = df["messages"][0].to_list()
    assert msgs[2]["tool_calls"][0]["arguments"] == '{"city": "北京"}'
    assert '"get_weather"' in df["tools"][0]


def test_content_ids_are_stable_and_content_based():
    a = from_dicts([_tool_record()])
    b = from_dicts([{**_tool_record(), "meta": {"origin": "elsewhere"}}])  # meta is not content
    c = from_dicts([{**_tool_record(), "label": True}])
    assert a["id"][0] == b["id"][0]
    assert a["id"][0] != c["id"][0]
    given = from_dicts([{**_tool_record(), "id": "mine"}])
    assert given["id"][0] == "mine"


def test_with_content_ids_fills_only_missing():
    df = from_dicts([{"messages": [message("user", "q")]}, {"id": "x", "messages": [message("user", "q")]}])
    df = df.with_columns(pl.when(pl.col("id") == "x").then(pl.lit("x")).otherwise(None).alias("id"))
    out = with_content_ids(df)
    assert out["id"][1] == "x" and out["id"][0] is not None


def test_content_ids_are_sha1_of_the_canonical_json():
    """The id definition (sha1 of the record's JSON, 16 hex digits) computed the plain way
    with hashlib, row by row: the buffer-level hashing must give the same ids, also for a
    sliced frame, non-ASCII text and a mix of given and missing ids."""
    import hashlib

    recs = [_tool_record(), {"messages": [message("user", "问"), message("assistant", "答 é")]}] * 3
    df = from_dicts(recs).with_columns(pl.lit(None, dtype=pl.String).alias("id"))
    content = pl.struct("messages", "tools", "chosen", "rejected", "label").struct.json_encode()
    want = [hashlib.sha1(t.encode("utf-8")).hexdigest()[:16] for t in df.select(content).to_series().to_list()]
    assert with_content_ids(df)["id"].to_list() == want
    assert with_content_ids(df.slice(1, 4))["id"].to_list() == want[1:5]
    mixed = df.with_columns(pl.when(pl.int_range(pl.len()) % 2 == 0).then(pl.lit("given")).alias("id"))
    assert with_content_ids(mixed)["id"].to_list() == ["given" if i % 2 == 0 else w for i, w in enumerate(want)]
    assert with_content_ids(df.clear())["id"].to_list() == []


def test_conform_adds_missing_optional_columns_and_refuses_extras():
    base = from_dicts([{"messages": [message("user", "q")]}]).select("id", "messages")
    assert conform(base).columns == list(POLARS_SCHEMA)
    with pytest.raises(ValueError, match="not canonical"):
        conform(base.with_columns(pl.lit(1).alias("score")))
    with pytest.raises(ValueError, match="required"):
        conform(base.select("id"))


def test_records_drops_null_message_fields():
    out = records(from_dicts([{"messages": [message("user", "q"), message("assistant", "a")]}]))
    assert out[0]["messages"] == [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]


def test_arrow_round_trip_is_lossless():
    df = from_dicts([_tool_record()])
    back = pl.from_arrow(pa.Table.from_batches(to_arrow(df).to_batches()))
    assert back.equals(df)
