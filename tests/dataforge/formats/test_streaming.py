"""Streaming reads: JSON arrays split at the byte level, byte-bounded shards, bounded memory.

Memory is measured for real: ``convert`` and ``apply`` run in a subprocess on generated
ShareGPT files of two sizes, and the peak resident set (``resource.getrusage``) must not
grow with the file. No timing is asserted.
"""

from __future__ import annotations

import gzip
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from dataforge.formats.api import iter_load, load
from dataforge.formats.base import FormatError
from dataforge.formats.readers import jsonarray
from dataforge.formats.readers.jsonl import iter_line_blocks

ROOT = Path(__file__).resolve().parents[3]
WORDS = "the patient should take medicine twice a day call doctor if fever persists".split()
HAN = [chr(c) for c in range(0x4E00, 0x4E00 + 800)]


def _records(n: int, seed: int = 0) -> list[dict]:
    """Multi-turn ShareGPT rows, a third Chinese, about 1.5 KB each."""
    rng = random.Random(seed)

    def text() -> str:
        if rng.random() < 0.33:
            return "".join(rng.choice(HAN) for _ in range(rng.randint(50, 250)))
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(30, 150)))

    rows = []
    for i in range(n):
        conv = []
        for _ in range(rng.randint(1, 3)):
            conv += [{"from": "human", "value": text()}, {"from": "gpt", "value": text()}]
        rows.append({"id": f"r{i}", "conversations": conv})
    return rows


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


# -- JSON arrays ---------------------------------------------------------------------------


def test_json_array_streams_to_the_same_records_as_jsonl(tmp_path, monkeypatch):
    rows = _records(300, seed=1)
    rows[5]["conversations"][0]["value"] = 'quotes " and \\" and brackets ]}[{, commas, \\\\ end'
    rows[6]["conversations"][0]["value"] = "a line\nbreak and a tab\t"
    jsonl = _write_jsonl(tmp_path / "a.jsonl", rows)
    pretty = tmp_path / "a.json"
    pretty.write_text("\ufeff" + json.dumps(rows, ensure_ascii=False, indent=2), encoding="utf-8")
    compact = tmp_path / "b.json.gz"
    with gzip.open(compact, "wt", encoding="utf-8") as f:
        f.write(json.dumps(rows, ensure_ascii=False))
    monkeypatch.setattr(jsonarray, "CHUNK", 4093)  # elements and escapes straddle chunks
    want = load(jsonl).records.drop("source")
    for path in (pretty, compact):
        parts = list(iter_load(path, shard_rows=40, shard_bytes=20_000))
        assert len(parts) > 5
        got = load(path).records.drop("source")
        assert got.equals(want)
        assert [p.records.height for p in parts] and sum(p.records.height for p in parts) == 300


def test_json_array_bad_element_is_rejected_with_its_element_number(tmp_path):
    rows = _records(5, seed=2)
    text = json.dumps(rows, indent=1).replace('"from": "gpt"', '"from": gpt', 1)  # element 1
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    res = load(path)
    assert res.records.height == 4
    row = res.rejected.row(0, named=True)
    assert (row["reason"], row["source_row"]) == ("invalid_json", 1)
    assert "gpt" in row["raw"]


@pytest.mark.parametrize(
    "text, message",
    [
        ('[{"conversations": []}', "not closed"),
        ('[{"conversations": []}] x', "after the array"),
        ('[{"a": 1}]]', "unbalanced"),
    ],
)
def test_broken_json_arrays_are_refused_with_a_located_message(tmp_path, text, message):
    path = tmp_path / "x.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FormatError, match=message):
        list(jsonarray.iter_element_blocks(path, 10, 1 << 20))


def test_json_array_edge_cases(tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text("[ ]\n", encoding="utf-8")
    assert list(jsonarray.iter_element_blocks(empty, 10, 1 << 20)) == []
    nested = tmp_path / "nested.json"
    nested.write_text('[{"a": [1, [2, {"b": "]"}]]}, {"c": "\\\\"}]', encoding="utf-8")
    blocks = list(jsonarray.iter_element_blocks(nested, 10, 1 << 20))
    lines = blocks[0][0].decode().splitlines()
    assert [json.loads(x) for x in lines] == [{"a": [1, [2, {"b": "]"}]]}, {"c": "\\"}]
    one = tmp_path / "one.json"  # a single object is still one record
    one.write_text(json.dumps(_records(1)[0], indent=2), encoding="utf-8")
    assert load(one).records.height == 1


def test_line_blocks_respect_rows_and_bytes(tmp_path):
    path = _write_jsonl(tmp_path / "a.jsonl", _records(200, seed=3))
    by_rows = list(iter_line_blocks(path, 50))
    assert [b.count(b"\n") for b, _ in by_rows] == [50, 50, 50, 50]
    by_bytes = list(iter_line_blocks(path, 10_000, 30_000))
    assert all(len(b) <= 30_000 or b.count(b"\n") == 1 for b, _ in by_bytes)
    assert sum(b.count(b"\n") for b, _ in by_bytes) == 200
    assert [first for _, first in by_bytes] == [1] + [1 + sum(b.count(b"\n") for b, _ in by_bytes[:k]) for k in range(1, len(by_bytes))]


# -- bounded memory --------------------------------------------------------------------------

_PEAK = """
import resource, sys
from dataforge.formats.api import iter_load, open_writer
from dataforge.ops.chain import build_ops, iter_apply
src, out, ops = sys.argv[1], sys.argv[2], sys.argv[3:]
shards = iter_load(src, shard_bytes=1 << 20)
kept, _ = iter_apply(shards, build_ops(ops), lambda *a: None)
with open_writer(out, "canonical") as w:
    for shard in kept:
        w.write(shard)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def _peak_mb(src: Path, out: Path, ops: list[str]) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _PEAK, str(src), str(out), *ops],
        cwd=ROOT, capture_output=True, text=True, check=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "OMP_WAIT_POLICY": "PASSIVE", "POLARS_MAX_THREADS": "2"},
    )
    return int(done.stdout.strip().splitlines()[-1])


#: Peak RSS of the same run varies by up to ~90 MB between runs (allocator arenas of
#: polars' threads); the bound allows that much on top of half the extra input. Reading
#: the whole file at once (the old JSON-array path, or one shard for the whole file)
#: grows by 7-10x the extra input and fails it.
_NOISE_MB = 96


@pytest.mark.parametrize(
    "kind, ops",
    [("jsonl", []), ("json", []), ("jsonl", ["normalize", "dedup.exact", "dedup.near"])],
    ids=["convert-jsonl", "convert-json-array", "apply-jsonl"],
)
def test_peak_memory_does_not_grow_with_the_input(tmp_path, kind, ops):
    """A file 8x larger (about 3 MB -> 24 MB, 1 MB shards) raises the peak by far less than
    the extra input: only the dedup index grows with the rows."""
    rows = _records(11_000, seed=4)
    rows += [dict(r, id=f"copy{i}") for i, r in enumerate(rows[:1000])]  # something to dedup
    peaks = []
    for n in (1_500, 12_000):
        part = rows[:n] if n < len(rows) else rows
        src = tmp_path / f"in{n}.{kind}"
        if kind == "jsonl":
            _write_jsonl(src, part)
        else:
            src.write_text(json.dumps(part, ensure_ascii=False, indent=1), encoding="utf-8")
        peaks.append((src.stat().st_size / 2**20, _peak_mb(src, tmp_path / f"out{n}.parquet", ops)))
    (small_mb, small_peak), (big_mb, big_peak) = peaks
    assert big_mb > 7 * small_mb
    assert big_peak - small_peak < 0.5 * (big_mb - small_mb) + _NOISE_MB, peaks
