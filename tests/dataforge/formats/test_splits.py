"""Parallel reading: splits of a file, read one by one, give exactly what one sequential
read gives (records, rejected rows with their line numbers, raw text), and each record's
order base sorts like the file."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from dataforge.errors import MissingFileError
from dataforge.formats.api import load
from dataforge.formats.splits import (
    count_newlines, expand_inputs, iter_load_split, number_lines, plan_splits,
)
from dataforge.schemas import from_dicts, message, to_arrow


def _messy_jsonl(path: Path, n: int = 300, trailing_newline: bool = True) -> Path:
    rng = random.Random(3)
    lines = []
    for i in range(n):
        r = rng.random()
        if r < 0.05:
            lines.append("")  # blank lines count in line numbers
        elif r < 0.1:
            lines.append('{"id": "broken", "conversations": [')
        else:
            turns = [{"from": "human", "value": "q" * rng.randint(1, 400)}, {"from": "gpt", "value": "答" * rng.randint(1, 60)}]
            lines.append(json.dumps({"id": f"r{i}", "conversations": turns}, ensure_ascii=False))
    path.write_text("\ufeff" + "\n".join(lines) + ("\n" if trailing_newline else ""), encoding="utf-8")
    return path


def _read_all(splits, shard_rows: int = 37) -> tuple[pl.DataFrame, pl.DataFrame, list[int]]:
    records, rejected, orders = [], [], []
    for split in splits:
        for base, res in iter_load_split(split, shard_rows=shard_rows):
            records.append(res.records)
            rejected.append(res.rejected)
            orders.extend(base + k for k in range(res.records.height))
    return pl.concat(records), pl.concat(rejected), orders


@pytest.mark.parametrize("target", [2000, 9000, 1 << 30])
@pytest.mark.parametrize("trailing_newline", [True, False])
def test_jsonl_splits_read_like_one_pass(tmp_path, target, trailing_newline):
    path = _messy_jsonl(tmp_path / "x.jsonl", trailing_newline=trailing_newline)
    whole = load(path)
    splits = plan_splits([path], target_bytes=target)
    assert len(splits) == -(-path.stat().st_size // target)
    splits = number_lines(splits, [count_newlines(s) for s in splits])
    records, rejected, orders = _read_all(splits)
    assert records["id"].to_list() == whole.records["id"].to_list()
    assert records.equals(whole.records)
    assert rejected.select("source_row", "reason", "raw").equals(whole.rejected.select("source_row", "reason", "raw"))
    assert orders == sorted(orders) and len(set(orders)) == len(orders)


def test_parquet_splits_by_row_group_and_whole_files(tmp_path):
    table = to_arrow(from_dicts([{"id": f"p{i}", "messages": [message("user", f"问 {i}"), message("assistant", "答")]}
                                 for i in range(500)]))
    parquet = tmp_path / "x.parquet"
    pq.write_table(table, parquet, row_group_size=64)
    gz = tmp_path / "y.jsonl.gz"
    with gzip.open(gz, "wt", encoding="utf-8") as f:
        f.write("\n".join(json.dumps({"id": f"g{i}", "messages": [{"role": "user", "content": "x"},
                                                               {"role": "assistant", "content": "y"}]})
                          for i in range(50)))
    splits = plan_splits([parquet, gz], target_bytes=1)  # every row group its own split; gzip whole
    assert [s.kind for s in splits] == ["parquet"] * 8 + ["whole"]
    assert [s.first_row for s in splits[:3]] == [1, 65, 129]
    records, _, orders = _read_all(splits)
    assert records["id"].to_list() == [f"p{i}" for i in range(500)] + [f"g{i}" for i in range(50)]
    assert orders[:500] == list(range(1, 501)) and orders[500:] == list(range(1, 51))  # per file


def test_inputs_by_name_or_glob(tmp_path):
    for name in ("b.jsonl", "a.jsonl", "c.csv"):
        (tmp_path / name).write_text("{}\n", encoding="utf-8")
    assert expand_inputs([tmp_path / "c.csv", str(tmp_path / "*.jsonl")]) == [
        tmp_path / "c.csv", tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    with pytest.raises(MissingFileError, match="no input file matches"):
        expand_inputs([str(tmp_path / "*.parquet")])
    with pytest.raises(MissingFileError, match="no such input file"):
        expand_inputs([tmp_path / "missing.jsonl"])
