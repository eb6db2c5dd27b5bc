"""dataforge.arrow: buffer-level helpers equal Arrow's own kernels (which they avoid for
memory and start-up), on nulls, empty lists, slices and non-ASCII text."""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from dataforge import arrow
from dataforge.schemas import CANONICAL_SCHEMA, conform, from_dicts, message, to_arrow


def _records() -> pl.DataFrame:
    call = {"id": "c1", "name": "查询", "arguments": '{"城市": "北京"}'}
    return from_dicts([
        {"messages": [message("user", "问"), message("assistant", None, tool_calls=[call]),
                      message("tool", "21°", tool_call_id="c1"), message("assistant", "答")],
         "tools": "[]", "meta": {"k": 1}},
        {"messages": [message("user", "q")], "chosen": [message("assistant", "a")],
         "rejected": [message("assistant", "b")]},
        {"messages": [], "label": True},
    ] * 5)


def test_to_arrow_equals_arrows_cast() -> None:
    df = _records()
    for frame in (df, df.slice(3, 7), df.clear()):
        got = to_arrow(frame)
        got.validate(full=True)
        assert got.schema.equals(CANONICAL_SCHEMA)
        assert got.equals(conform(frame).to_arrow().cast(CANONICAL_SCHEMA))


def test_list_lengths_equal_value_lengths_with_nulls_as_zero() -> None:
    lists = pa.array([[1, 2], None, [], [3], None, [4, 5, 6]], pa.large_list(pa.int64()))
    for arr in (lists, lists.slice(1, 4), lists.slice(5), pa.array([[1], None], pa.list_(pa.int64()))):
        want = arr.value_lengths().fill_null(0).to_pylist()
        assert arrow.list_lengths(arr).tolist() == want
        assert arrow.valid(arr).tolist() == arr.is_valid().to_pylist()


def test_series_is_the_same_column() -> None:
    arr = pa.array(["a", None, "中文"], pa.large_string())
    s = arrow.series("x", arr)
    assert s.name == "x" and s.to_list() == ["a", None, "中文"]
