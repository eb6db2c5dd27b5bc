"""The rows bar of convert/apply/inspect: an exact total from Parquet metadata, an
estimate refined shard by shard from the bytes read for JSON Lines."""

from __future__ import annotations

import json
from pathlib import Path

from dataforge import progress
from dataforge.formats.api import count_rows, iter_load, text_bytes, write


def _bar_totals(shards, total, size) -> tuple[list[float | None], float | None, float]:
    display = progress._new_display()
    token = progress._ACTIVE.set(display)
    seen = []
    try:
        for _ in progress.track_rows(shards, "reading", total, size):
            seen.append(display.tasks[-1].total)
    finally:
        progress._ACTIVE.reset(token)
    bar = display.tasks[-1]
    return seen, bar.total, bar.completed


def test_jsonl_total_is_estimated_from_bytes_then_exact(tmp_path: Path) -> None:
    rows = [{"conversations": [{"from": "human", "value": "问" * (i % 50 + 1)}, {"from": "gpt", "value": "答"}]}
            for i in range(600)]
    src = tmp_path / "data.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    assert count_rows(src) is None and text_bytes(src) == src.stat().st_size
    seen, total, completed = _bar_totals(iter_load(src, shard_bytes=8 << 10), None, text_bytes(src))
    assert len(seen) > 3
    assert all(t is not None and 0.5 * 600 < t < 1.5 * 600 for t in seen[1:])  # an estimate from the first shard on
    assert total == completed == 600


def test_parquet_total_comes_from_metadata(tmp_path: Path) -> None:
    src = tmp_path / "data.jsonl"
    src.write_text("".join(json.dumps({"instruction": f"q{i}", "output": "a"}) + "\n" for i in range(50)))
    out = write(next(iter_load(src)).records, tmp_path / "data.parquet")
    assert count_rows(out) == 50 and text_bytes(out) is None
    seen, total, completed = _bar_totals(iter_load(out), count_rows(out), text_bytes(out))
    assert seen == [50] and total == completed == 50
