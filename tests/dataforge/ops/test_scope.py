"""What executors rely on: every op's scope, set-up and release, light pickling, and
set-up stats reported once however many shards or processes ran the op."""

from __future__ import annotations

import pickle

import polars as pl
import pytest

from dataforge.ops import make_op, registry
from dataforge.ops.base import SCOPES, Operator, OpResult
from dataforge.ops.chain import apply, merge_stats
from dataforge.schemas import from_dicts, message

BATCH = {"normalize", "pii.mask", "template.lint", "decontaminate"}


def _table() -> pl.DataFrame:
    return from_dicts([
        {"id": "a", "messages": [message("user", "mail me: zhang.wei@example.cn"), message("assistant", "好的")]},
        {"id": "b", "messages": [message("user", "我的手机号是13812345678"), message("assistant", "收到")]},
    ])


def test_every_op_declares_a_scope():
    scopes = {name: cls.scope for name, cls in registry().items()}
    assert set(scopes.values()) <= set(SCOPES)
    assert {n for n in BATCH if n in scopes} == BATCH and all(scopes[n] == "batch" for n in BATCH)
    assert all(scopes[n] == "batch" for n in scopes if n.startswith("filter."))
    assert scopes["dedup.exact"] == scopes["dedup.near"] == "stream"
    assert make_op("dedup.near", {"keep": "longest"}).scope == "global"


def test_the_older_needs_full_table_means_global():
    class Whole(Operator):
        name = "test.whole"
        needs_full_table = True

        def process(self, records: pl.DataFrame) -> OpResult:
            return self.split(records, pl.lit(False), reason="never")

    assert Whole.scope == "global" and Whole().needs_full_table
    with pytest.raises(TypeError, match="scope 'row'"):
        type("Bad", (Operator,), {"name": "test.bad", "scope": "row"})


def test_pii_sets_up_once_releases_and_pickles_light():
    op = make_op("pii.mask")
    first = op(_table())
    loaded = op._fast
    op.setup()
    assert op._fast is loaded  # idempotent: nothing reloads
    copy = pickle.loads(pickle.dumps(op))
    assert len(pickle.dumps(op)) < 5_000 and "_fast" not in copy.__dict__  # class + config only
    assert copy.config == op.config and copy(_table()).kept.equals(first.kept)
    op.close()
    assert "_fast" not in op.__dict__
    assert op(_table()).kept.equals(first.kept)  # sets itself up again


def test_setup_stats_are_reported_once_over_shards():
    table = from_dicts([{"id": f"r{i}", "messages": [message("user", f"question {i}"), message("assistant", "ok")]}
                        for i in range(6)])
    result = apply([table.head(2), table.slice(2, 2), table.tail(2)], ["decontaminate:eval_set=[a b c d e f]"])
    (stats,) = result.stats
    assert stats["eval_items"] == 1 and stats["rows_in"] == 6
    acc: dict = {}
    for _ in range(3):
        merge_stats(acc, {"eval_items": 5, "rows_in": 2}, once={"eval_items"})
    assert acc == {"eval_items": 5, "rows_in": 6}
