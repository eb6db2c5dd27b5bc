"""The rows bar of convert/apply/inspect: an exact total from Parquet metadata, an
estimate refined shard by shard from the bytes read for JSON Lines; and the display,
drawn only once a command has run its delay."""

from __future__ import annotations

import json
import time
from pathlib import Path

from dataforge import progress
from dataforge.formats.api import count_rows, iter_load, text_bytes, write


def _bar_totals(shards, total, size) -> tuple[list[float | None], float | None, float]:
    display = progress.Display(draw=False)
    token = progress._ACTIVE.set(display)
    seen = []
    try:
        for _ in progress.track_rows(shards, "reading", total, size):
            seen.append(display.steps[-1].total)
    finally:
        progress._ACTIVE.reset(token)
    bar = display.steps[-1]
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


def test_a_quick_command_never_draws_and_a_slow_one_draws_every_step_so_far() -> None:
    quick = progress.Display(delay=5.0, draw=True)
    step = quick.add("quick", total=3, unit="rows")
    quick.update(step, 3)
    quick.finish(step)
    quick.close()
    assert quick._progress is None and step.completed == 3

    slow = progress.Display(delay=0.05, draw=True)
    done = slow.add("read", total=10, unit="rows")
    slow.update(done, 10)
    slow.finish(done)
    running = slow.add("generate", total=4, unit="prompts")
    slow.update(running, 1, note="hits 0")
    deadline = time.monotonic() + 10
    while slow._progress is None and time.monotonic() < deadline:
        time.sleep(0.01)
    slow.update(running, 2)
    bars = {t.description: t for t in slow._progress.tasks}
    slow.close()
    assert bars["read"].completed == 10 and bars["read"].stop_time is not None
    assert bars["generate"].completed == 3 and bars["generate"].fields["note"] == "hits 0"
    assert bars["generate"].start_time == running.started  # elapsed counts from the step's start
