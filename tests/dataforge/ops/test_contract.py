"""The operator contract, for every registered op, and the chain that runs them.

Rows in = kept + rejected; every rejected row names its stage and reason; kept rows stay
canonical. Ops whose config has required fields provide ``example_params()``.
"""

from __future__ import annotations

import json
from typing import Any

import polars as pl
import pytest
from pydantic import Field

from dataforge.ops import base as ops_base
from dataforge.ops import registry
from dataforge.ops.base import Operator, OpConfig, OpResult
from dataforge.ops.chain import apply, build_ops, merge_stats, parse_op_spec
from dataforge.schemas import POLARS_SCHEMA, REJECTED_SCHEMA, from_dicts
from dataforge.schemas import message as m

TOOLS = json.dumps([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}])


def mixed_table() -> pl.DataFrame:
    """Small but varied: en + zh chat, system turns, tool calls, preference, KTO, duplicates."""
    call = [{"id": "c1", "name": "get_weather", "arguments": '{"city": "上海"}'}]
    rows = [
        {"messages": [m("user", "What is the boiling point of water at sea level?"), m("assistant", "100 degrees Celsius.")], "source": "en"},
        {"messages": [m("system", "你是一名医生。"), m("user", "感冒了应该怎么办？"), m("assistant", "多喝水，注意休息，如果发烧超过三天请就医。")], "source": "zh"},
        {"messages": [m("user", "What is the boiling point of water at sea level?"), m("assistant", "100 degrees Celsius.")], "source": "en", "meta": {"copy": True}},
        {"messages": [m("user", "上海今天天气怎么样？"), m("assistant", None, tool_calls=call),
                      m("tool", '{"temp": 25}', tool_call_id="c1"), m("assistant", "上海今天25度，晴。")], "tools": TOOLS, "source": "tools"},
        {"messages": [m("user", "Write a short poem about the sea.")],
         "chosen": [m("assistant", "Waves fold light into the shore.")],
         "rejected": [m("assistant", "sea sea sea sea sea sea sea sea")], "source": "pref"},
        {"messages": [m("user", "用一句话介绍长城。"), m("assistant", "长城是中国古代修建的军事防御工程。")], "label": True, "source": "kto"},
        {"messages": [m("user", "Call me at 415-555-0134 or mail jane.doe@example.com"), m("assistant", "Noted.")], "label": False, "source": "kto"},
        {"messages": [m("user", "请联系13812345678。"), m("user", "还有吗"), m("assistant", "")], "source": "zh"},
    ]
    # explicit ids: the content hash would give the two identical conversations one id
    return from_dicts([{"id": f"r{i}", **row} for i, row in enumerate(rows)])


def _build(cls: type[Operator]) -> Operator:
    example = getattr(cls, "example_params", None)
    return cls(example() if callable(example) else {})


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(registry()))
def test_every_op_keeps_rows_in_equal_kept_plus_rejected(name):
    table = mixed_table()
    op = _build(registry()[name])
    result = op(table)
    assert result.kept.height + result.rejected.height == table.height
    kept_ids, rejected_ids = set(result.kept["id"]), set(result.rejected["id"])
    assert kept_ids.isdisjoint(rejected_ids) and kept_ids | rejected_ids == set(table["id"])
    assert dict(result.kept.schema) == POLARS_SCHEMA
    assert dict(result.rejected.schema) == REJECTED_SCHEMA
    assert result.rejected["stage"].to_list() == [name] * result.rejected.height
    assert result.rejected["reason"].null_count() == 0
    stats = result.stats
    assert (stats["op"], stats["rows_in"]) == (name, table.height)
    assert sum(stats["reasons"].values()) == stats["rows_rejected"] == result.rejected.height


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(registry()))
def test_every_op_streams_over_shards_and_empty_input(name):
    table = mixed_table()
    op = _build(registry()[name])
    result = apply([table.head(3), table.slice(3, 0), table.tail(5)], [op])
    assert result.kept.height + result.rejected.height == table.height
    (stats,) = result.stats
    assert stats["rows_in"] == table.height and stats["rows_kept"] == result.kept.height
    empty = _build(registry()[name])(table.clear())
    assert empty.kept.height == 0 and empty.rejected.height == 0


def test_registry_lists_my_ops_and_excludes_the_chain():
    ops = registry()
    assert {"template.lint", "decontaminate"} <= set(ops)
    assert all(cls.name == name for name, cls in ops.items())


# -- op specs ------------------------------------------------------------------------------------


def test_parse_op_spec_yaml_values():
    assert parse_op_spec("normalize") == ("normalize", {})
    assert parse_op_spec("x.y:n=13,ratio=0.5,flag=true,roles=[user,assistant],name=abc,none=") == (
        "x.y", {"n": 13, "ratio": 0.5, "flag": True, "roles": ["user", "assistant"], "name": "abc", "none": None},
    )
    assert parse_op_spec("f:text='a,b',m={k: 1}") == ("f", {"text": "a,b", "m": {"k": 1}})
    assert parse_op_spec("f:text=don't,n=2") == ("f", {"text": "don't", "n": 2})
    assert parse_op_spec({"op": "dedup.near", "threshold": 0.7}) == ("dedup.near", {"threshold": 0.7})


@pytest.mark.parametrize("spec", ["f:novalue", ":n=1", {"threshold": 0.7}])
def test_parse_op_spec_errors(spec):
    with pytest.raises(ValueError):
        parse_op_spec(spec)


def test_build_ops_fails_before_reading_data():
    with pytest.raises(KeyError, match="unknown op 'no.such.op'"):
        build_ops(["decontaminate:eval_set=[a b c]", "no.such.op"])
    with pytest.raises(ValueError, match="eval_sett"):
        build_ops(["decontaminate:eval_sett=[x]"])


# -- chain mechanics --------------------------------------------------------------------------------


class _DropZh(Operator):
    """Reject records whose source is zh (test op)."""

    name = "test.drop_zh"

    def process(self, records: pl.DataFrame) -> OpResult:
        return self.split(records, pl.col("source") == "zh", reason="zh", stats={"seen_max": records.height, "hist": {"n": records.height}})


class _KeepFirstOfSource(Operator):
    """Keep the first record of each source across the whole table (test op, full table)."""

    name = "test.first_of_source"
    needs_full_table = True

    class Config(OpConfig):
        note: str = Field("x")

    def process(self, records: pl.DataFrame) -> OpResult:
        dup = pl.int_range(pl.len()).over("source") > 0
        return self.split(records, dup, reason="not_first", stats={"calls": 1})




def test_chain_streams_merges_stats_and_materializes_full_table_ops():
    table = mixed_table()
    shards = [table.head(4), table.tail(4)]
    result = apply(shards, [_DropZh(), _KeepFirstOfSource(), {"op": "decontaminate", "eval_set": ["x y z"]}])
    drop, first, decont = result.stats
    assert [s["op"] for s in result.stats] == ["test.drop_zh", "test.first_of_source", "decontaminate"]
    assert drop["rows_in"] == 8 and drop["rows_rejected"] == 2 and drop["seen_max"] == 4
    assert drop["hist"] == {"n": 8}  # dicts merge by adding
    assert first["calls"] == 1 and first["rows_in"] == 6  # one call with everything upstream
    assert sorted(result.kept["source"]) == ["en", "kto", "pref", "tools"]
    assert result.kept.height + result.rejected.height == table.height
    assert set(result.rejected["stage"]) == {"test.drop_zh", "test.first_of_source"}


def test_chain_with_no_rows_still_reports_every_stage():
    result = apply(mixed_table().clear(), [_DropZh(), "decontaminate:eval_set=[a]"])
    assert [s["rows_in"] for s in result.stats] == [0, 0]
    assert result.kept.height == 0 and dict(result.rejected.schema) == REJECTED_SCHEMA


def test_merge_stats_rules():
    acc: dict[str, Any] = {}
    merge_stats(acc, {"n": 1, "t_max": 5, "t_min": 5, "h": {"a": 1}, "ids": [1], "report": "first", "flag": True})
    merge_stats(acc, {"n": 2, "t_max": 9, "t_min": 2, "h": {"a": 1, "b": 2}, "ids": [2], "report": "second", "flag": False})
    assert acc == {"n": 3, "t_max": 9, "t_min": 2, "h": {"a": 2, "b": 2}, "ids": [1, 2], "report": "first", "flag": True}
