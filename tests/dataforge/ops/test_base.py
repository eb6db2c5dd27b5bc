"""The operator base class: config validation, split, invariant enforcement, registry."""

from __future__ import annotations

import polars as pl
import pytest
from pydantic import Field

from dataforge.errors import ConfigError

from dataforge.ops import base as ops_base
from dataforge.ops.base import Operator, OpConfig, OpResult, get_op
from dataforge.schemas import REJECTED_SCHEMA, from_dicts, message


class _MaxTurns(Operator):
    """Reject records with more than ``max_turns`` messages (test op)."""

    name = "test.max_turns"

    class Config(OpConfig):
        max_turns: int = Field(2, description="most messages a record may have")

    def process(self, records: pl.DataFrame) -> OpResult:
        n = pl.col("messages").list.len()
        return self.split(
            records, n > self.config.max_turns, reason="too_many_turns",
            detail=pl.format("{} messages", n), field="messages",
        )


class _Leaky(Operator):
    name = "test.leaky"

    def process(self, records: pl.DataFrame) -> OpResult:
        return OpResult(records.head(1), records.clear().pipe(lambda d: d.head(0)).select([]), {})


# Test ops are not decorated with @register_op, so the every-op contract test does not
# pick them up; the registry test registers one temporarily.


def _table() -> pl.DataFrame:
    return from_dicts(
        [
            {"messages": [message("user", "q"), message("assistant", "a")]},
            {"messages": [message("user", "问"), message("assistant", "答"), message("user", "再问")]},
        ]
    )


def test_split_partitions_and_describes_rejections():
    result = _MaxTurns(max_turns=2)(_table())
    assert result.kept.height == 1 and result.rejected.height == 1
    assert dict(result.rejected.schema) == REJECTED_SCHEMA
    row = result.rejected.row(0, named=True)
    assert (row["stage"], row["reason"], row["detail"], row["field"]) == (
        "test.max_turns", "too_many_turns", "3 messages", "messages",
    )
    assert row["messages"][2]["content"] == "再问"  # the record itself is preserved
    assert result.stats["reasons"] == {"too_many_turns": 1}
    assert result.stats["rows_in"] == 2 and result.stats["seconds"] >= 0


def test_unknown_config_keys_are_errors():
    with pytest.raises(ConfigError, match="unknown parameter 'max_turn' \\(did you mean 'max_turns'\\?\\)"):
        _MaxTurns(max_turn=3)


def test_invariant_violation_raises():
    with pytest.raises(AssertionError, match="row invariant"):
        _Leaky()(_table())


def test_registry_and_describe(monkeypatch):
    monkeypatch.setitem(ops_base.OPS._items, _MaxTurns.name, _MaxTurns)
    assert get_op("test.max_turns") is _MaxTurns
    info = _MaxTurns.describe()
    assert info["params"]["max_turns"]["default"] == 2
    assert "most messages" in info["params"]["max_turns"]["description"]
    with pytest.raises(KeyError, match="unknown op"):
        get_op("no.such.op")
