"""compose.split and compose.mix, and their CLI commands."""

from __future__ import annotations

import json

import polars as pl
import pytest
from typer.testing import CliRunner

from dataforge.cli.app import app
from dataforge.cli.main import _load_commands
from dataforge.compose import mix, split
from dataforge.schemas import from_dicts
from dataforge.schemas import message as m


def _data(n: int, source: str | None, lang: str = "en", meta: dict | None = None) -> pl.DataFrame:
    text = "问题" if lang == "zh" else "question"
    return from_dicts([
        {"messages": [m("user", f"{source} {text} {i}"), m("assistant", f"{i}")], "source": source, "meta": meta}
        for i in range(n)
    ])


# -- split ------------------------------------------------------------------------------------------


def test_split_is_stratified_seeded_and_complete():
    df = pl.concat([_data(50, "medical"), _data(30, "chat", "zh"), _data(20, None)])
    result = split(df, 0.2, stratify="source", seed=3)
    assert result.train.height + result.test.height == df.height
    assert set(result.train["id"]).isdisjoint(result.test["id"])
    assert set(result.train["id"]) | set(result.test["id"]) == set(df["id"])
    counts = dict(result.test.group_by("source").len().rows())
    assert counts == {"medical": 10, "chat": 6, None: 4}
    assert result.stats["strata"]["chat"] == {"train": 24, "test": 6}
    assert [(name, part.height) for name, part in result.items()] == [("train", 80), ("test", 20)]
    again = split(df, 0.2, stratify="source", seed=3)
    assert again.test["id"].to_list() == result.test["id"].to_list()
    other = split(df, 0.2, stratify="source", seed=4)
    assert other.test["id"].to_list() != result.test["id"].to_list()


def test_split_keeps_input_order_and_handles_extremes():
    df = _data(10, "a")
    order = {rid: i for i, rid in enumerate(df["id"])}
    result = split(df, 0.3, stratify=None, seed=0)
    assert result.test.height == 3
    positions = [order[r] for r in result.train["id"]]
    assert positions == sorted(positions)
    assert split(df, 0.0).test.height == 0 and split(df, 1.0).train.height == 0
    single = split(_data(1, "tiny"), 0.1)
    assert (single.train.height, single.test.height) == (1, 0)  # round(0.1) = 0 test rows


def test_split_bad_input():
    df = _data(5, "a")
    with pytest.raises(ValueError, match="test_ratio"):
        split(df, 1.5)
    with pytest.raises(ValueError, match="not a column"):
        split(df, 0.1, stratify="domain")


# -- mix ----------------------------------------------------------------------------------------------


def test_mix_weights_size_and_provenance():
    new = _data(100, "new_source", meta={"score": 0.9})
    old = _data(40, None, "zh")
    result = mix({"new": new, "old_replay": old}, {"new": 0.8, "old_replay": 0.2}, size=50, seed=1)
    mixed = result.mixed
    assert mixed.height == 50
    metas = [json.loads(t) for t in mixed["meta"]]
    by_input = pl.Series([x["mix_input"] for x in metas]).value_counts().sort("")
    assert dict(by_input.rows()) == {"new": 40, "old_replay": 10}
    assert all(x["score"] == 0.9 for x in metas if x["mix_input"] == "new")  # meta kept
    assert set(mixed.filter(pl.col("meta").str.contains("old_replay"))["source"]) == {"old_replay"}
    assert set(mixed.filter(pl.col("meta").str.contains('"new"'))["source"]) == {"new_source"}
    assert mixed["id"].n_unique() == 50  # no replacement
    assert mix({"new": new, "old_replay": old}, {"new": 0.8, "old_replay": 0.2}, size=50, seed=1).mixed.equals(mixed)


def test_mix_without_size_takes_the_largest_exact_mix():
    new, old = _data(100, "new"), _data(10, "old")
    result = mix({"new": new, "old": old}, {"new": 0.8, "old": 0.2})
    assert result.stats["inputs"]["old"]["rows_taken"] == 10
    assert result.stats["inputs"]["new"]["rows_taken"] == 40 and result.mixed.height == 50


def test_mix_replacement_only_when_asked():
    new, old = _data(20, "new"), _data(3, "old")
    with pytest.raises(ValueError, match="'old' has 3 rows but the mix needs 5"):
        mix({"new": new, "old": old}, {"new": 0.75, "old": 0.25}, size=20)
    result = mix({"new": new, "old": old}, {"new": 0.75, "old": 0.25}, size=20, replace=True)
    old_ids = result.mixed.filter(pl.col("source") == "old")["id"]
    assert old_ids.len() == 5 and old_ids.n_unique() == 3  # every row once, then 2 more


def test_mix_bad_weights():
    df = _data(3, "a")
    with pytest.raises(ValueError, match="different datasets"):
        mix({"a": df}, {"b": 1.0})
    with pytest.raises(ValueError, match="non-negative"):
        mix({"a": df}, {"a": 0.0})
    with pytest.raises(ValueError, match="size must be >= 0"):
        mix({"a": df}, {"a": 1.0}, size=-1)


def test_mix_empty_input_is_a_clear_error():
    new, empty = _data(4, "new"), _data(2, "old").head(0)
    # with replacement an empty input used to fail with ZeroDivisionError
    with pytest.raises(ValueError, match="'old' has no rows"):
        mix({"new": new, "old": empty}, {"new": 0.5, "old": 0.5}, size=4, replace=True)


# -- CLI ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli():
    _load_commands()
    return CliRunner()


def _write_jsonl(path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def test_split_cli(cli, tmp_path):
    rows = [{"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}],
             "source": "en" if i % 2 else "zh"} for i in range(20)]
    src = tmp_path / "in.jsonl"
    _write_jsonl(src, rows)
    (src.parent / "in.jsonl").open("a", encoding="utf-8").write("{not json\n")
    out = tmp_path / "split"
    res = cli.invoke(app, ["split", str(src), str(out), "--test-ratio", "0.2", "--stratify", "source", "--seed", "0"])
    assert res.exit_code == 0, res.output
    train, test = pl.read_parquet(out / "train.parquet"), pl.read_parquet(out / "test.parquet")
    assert (train.height, test.height) == (16, 4)
    assert dict(test.group_by("source").len().rows()) == {"en": 2, "zh": 2}
    rejected = pl.concat([pl.read_parquet(p) for p in (out / "rejected").glob("*.parquet")])
    assert rejected.height == 1 and rejected["stage"][0].startswith("read:")


def test_mix_cli(cli, tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    _write_jsonl(a, [{"messages": [{"role": "user", "content": f"new {i}"}, {"role": "assistant", "content": "x"}]} for i in range(40)])
    _write_jsonl(b, [{"messages": [{"role": "user", "content": f"旧 {i}"}, {"role": "assistant", "content": "y"}]} for i in range(40)])
    out = tmp_path / "mixed.parquet"
    res = cli.invoke(app, ["mix", str(out), "--input", f"new={a}:0.8", "--input", f"{b}:0.2", "--size", "30", "--seed", "2"])
    assert res.exit_code == 0, res.output
    mixed = pl.read_parquet(out)
    inputs = mixed.select(pl.col("meta").str.json_path_match("$.mix_input"))["meta"]
    assert dict(inputs.value_counts().rows()) == {"new": 24, "b": 6}
    assert set(mixed["source"]) == {"a.jsonl", "b.jsonl"}  # the reader's provenance is kept
    res = cli.invoke(app, ["mix", str(out), "--input", f"{a}:0.5", "--input", f"{b}:0.5", "--size", "100"])
    assert res.exit_code == 2 and "--replace" in res.output
