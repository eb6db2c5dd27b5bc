"""decontaminate: long n-gram overlap with an eval set, English and Chinese."""

from __future__ import annotations

import polars as pl
import pytest
from dataforge.errors import ConfigError

from dataforge.formats.api import write
from dataforge.ops.chain import apply
from dataforge.ops.decontaminate import Decontaminate, _grams
from dataforge.schemas import from_dicts
from dataforge.schemas import message as m

EVAL_EN = (
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many "
    "clips in May. How many clips did Natalia sell altogether in April and May?"
)
EVAL_ZH = "小明有五个苹果，他给了小红两个苹果，然后又买了三个苹果，请问小明现在一共有几个苹果？"


def _rec(rid: str, user: str, assistant: str = "ok") -> dict:
    return {"id": rid, "messages": [m("user", user), m("assistant", assistant)]}


def _table() -> pl.DataFrame:
    return from_dicts([
        # reformatted copy: case, punctuation and a prefix do not hide it
        _rec("en_copy", "Question: NATALIA sold clips to 48 of her friends in April - and then she sold half as many clips in May! Solve."),
        # full-width punctuation and no spaces: still the same 20 characters
        _rec("zh_copy", "请解答：小明有五个苹果。他给了小红两个苹果、然后又买了三个苹果。"),
        _rec("en_short_overlap", "Natalia sold clips to 48 of her friends."),  # 9 words < 13
        _rec("zh_short_overlap", "小明有五个苹果，他给了小红两个。"),  # < 20 characters
        _rec("answer_only", "hello", EVAL_EN),  # only the assistant turn overlaps
        _rec("clean_en", "Write a haiku about autumn leaves falling gently on a quiet pond at dusk today please."),
        _rec("clean_zh", "请写一首关于秋天落叶的短诗，要求意境优美，语言简洁，适合小学生朗读。"),
    ])


def test_drops_copies_and_reports_the_match():
    result = Decontaminate(eval_set=[EVAL_EN, EVAL_ZH])(_table())
    rejected = {r["id"]: r for r in result.rejected.iter_rows(named=True)}
    assert set(rejected) == {"en_copy", "zh_copy"}
    assert result.kept["id"].to_list() == ["en_short_overlap", "zh_short_overlap", "answer_only", "clean_en", "clean_zh"]
    en, zh = rejected["en_copy"], rejected["zh_copy"]
    assert en["reason"] == zh["reason"] == "eval_contamination" and en["stage"] == "decontaminate"
    assert en["detail"] == (
        'shares a 13-word n-gram with eval item eval[0]: '
        '"natalia sold clips to 48 of her friends in april and then she"'
    )
    assert zh["detail"] == 'shares a 20-character n-gram with eval item eval[1]: "小明有五个苹果他给了小红两个苹果然后又买"'
    stats = result.stats
    assert stats["eval_items"] == 2 and [x["id"] for x in stats["matches"]] == ["en_copy", "zh_copy"]


def test_roles_widen_the_check_to_answers():
    result = Decontaminate(eval_set=[EVAL_EN], roles=["user", "assistant"])(_table())
    assert set(result.rejected["id"]) == {"en_copy", "answer_only"}


def test_shorter_n_catches_short_overlaps():
    result = Decontaminate(eval_set=[EVAL_EN, EVAL_ZH], n=8, cjk_chars=10)(_table())
    assert set(result.rejected["id"]) == {"en_copy", "zh_copy", "en_short_overlap", "zh_short_overlap"}


def test_eval_set_from_files(tmp_path):
    txt = tmp_path / "eval.txt"
    txt.write_text(f"{EVAL_EN}\n\n{EVAL_ZH}\n", encoding="utf-8")
    result = Decontaminate(eval_set=str(txt))(_table())
    details = dict(zip(result.rejected["id"], result.rejected["detail"]))
    assert "eval item eval.txt:1" in details["en_copy"] and "eval item eval.txt:3" in details["zh_copy"]
    assert result.stats["eval_items"] == 2


def test_eval_set_in_a_chat_format(tmp_path):
    path = tmp_path / "eval.jsonl"
    write(from_dicts([_rec("gsm-1", EVAL_EN, "72"), _rec("cmath-7", EVAL_ZH, "6")]), path, format="openai")
    result = Decontaminate(eval_set=str(path))(_table())
    details = dict(zip(result.rejected["id"], result.rejected["detail"]))
    assert "eval item gsm-1" in details["en_copy"] and "eval item cmath-7" in details["zh_copy"]


def test_streams_over_shards_and_builds_the_eval_set_once():
    op = Decontaminate(eval_set=[EVAL_EN, EVAL_ZH])
    df = _table()
    result = apply([df.head(3), df.tail(4)], [op])
    (stats,) = result.stats
    assert stats["rows_in"] == 7 and stats["rows_rejected"] == 2
    assert stats["eval_items"] == 2  # reported once, not summed per shard
    assert result.kept.height + result.rejected.height == df.height


def test_ngram_hashes_are_consistent_across_batches():
    a = _grams(pl.Series([EVAL_EN]), 13, 20)
    b = _grams(pl.Series(["unrelated text", EVAL_EN]), 13, 20).filter(pl.col("doc") == 1)
    assert a["hash"].to_list() == b["hash"].to_list()
    assert a.filter(pl.col("kind") == "w").height == len(EVAL_EN.split()) - 13 + 1
    assert a.filter(pl.col("kind") == "c").height == 0


def test_empty_and_null_inputs():
    op = Decontaminate(eval_set=[EVAL_EN])
    empty = op(from_dicts([]))
    assert empty.kept.height == 0 and empty.rejected.height == 0
    tool_only = from_dicts([{"id": "t", "messages": [m("user", None), m("assistant", "x")]}])
    assert op(tool_only).kept.height == 1


def test_bad_config():
    with pytest.raises(ConfigError):
        Decontaminate()
    with pytest.raises(ConfigError):
        Decontaminate(eval_set=["x"], n=1)
    with pytest.raises(FileNotFoundError):
        Decontaminate(eval_set="/nonexistent/eval.jsonl")(_table())
