"""Benchmark: synthetic ShareGPT JSONL -> canonical Parquet, side by side, one process.

Contenders (same input file, same output kind):

* ours: ``dataforge.formats`` streaming reader + canonical writer (validation, ids, meta)
* datasets: ``load_dataset("json")`` + per-example ``map`` to the canonical layout + Parquet
* python loop: ``json.loads`` per line + dict building + ``pyarrow`` write
* I/O ceiling: ``pyarrow.json.read_json`` + ``pyarrow.parquet.write_table`` (no conversion)

Run ``python bench/convert.py`` (100k records) or ``--quick`` (5k) to check it works.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

EN = ("the patient should take the medicine twice a day with water and rest until the fever "
      "goes down call a doctor if symptoms persist for more than three days").split()
ZH = list("患者应该每天服药两次多喝水注意休息如果症状持续三天以上请及时就医医生建议定期复查血压和血糖")
ROLE = {"human": "user", "gpt": "assistant", "system": "system"}


def synth(path: Path, n: int, seed: int = 0) -> None:
    """Multi-turn ShareGPT records; ~30% Chinese turns, some system prompts, an extra column."""
    r = random.Random(seed)

    def text() -> str:
        if r.random() < 0.3:
            return "".join(r.choice(ZH) for _ in range(r.randint(10, 120)))
        return " ".join(r.choice(EN) for _ in range(r.randint(5, 80)))

    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            conv = []
            if r.random() < 0.3:
                conv.append({"from": "system", "value": "You are a careful medical assistant."})
            for _ in range(r.randint(1, 4)):
                conv += [{"from": "human", "value": text()}, {"from": "gpt", "value": text()}]
            row = {"conversations": conv, "category": r.choice(["triage", "drugs", "diet"])}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def run_ours(src: Path, dst: Path) -> int:
    from dataforge.formats.api import iter_load, open_writer

    n = 0
    with open_writer(dst, "canonical") as w:
        for part in iter_load(src, "sharegpt"):
            w.write(part.records)
            n += part.records.height + part.rejected.height
    return n


def _message(turn: dict) -> dict:
    return {"role": ROLE[turn["from"]], "content": turn["value"], "name": None, "tool_calls": None, "tool_call_id": None}


def run_loop(src: Path, dst: Path) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from dataforge.schemas.record import CANONICAL_SCHEMA

    rows = []
    with open(src, encoding="utf-8") as f:
        for line in f:
            obj = json.loads(line)
            messages = [_message(t) for t in obj["conversations"]]
            rows.append({
                "id": hashlib.sha1(line.encode("utf-8")).hexdigest()[:16],
                "messages": messages, "tools": None, "chosen": None, "rejected": None, "label": None,
                "source": src.name, "meta": json.dumps({"category": obj["category"]}, ensure_ascii=False),
            })
    pq.write_table(pa.Table.from_pylist(rows, schema=CANONICAL_SCHEMA), dst, compression="zstd")
    return len(rows)


def run_datasets(src: Path, dst: Path, cache: Path) -> int:
    import datasets

    datasets.disable_progress_bars()
    ds = datasets.load_dataset("json", data_files=str(src), split="train", cache_dir=str(cache))

    def to_canonical(ex: dict) -> dict:
        return {
            "id": hashlib.sha1(json.dumps(ex["conversations"], ensure_ascii=False).encode()).hexdigest()[:16],
            "messages": [_message(t) for t in ex["conversations"]],
            "source": src.name,
            "meta": json.dumps({"category": ex["category"]}, ensure_ascii=False),
        }

    out = ds.map(to_canonical, remove_columns=ds.column_names)
    out.to_parquet(str(dst))
    return len(out)


def run_ceiling(src: Path, dst: Path) -> int:
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    table = pj.read_json(src)
    pq.write_table(table, dst, compression="zstd")
    return table.num_rows


def timed(name: str, fn: Callable[[], int]) -> tuple[str, int, float]:
    start = time.perf_counter()
    n = fn()
    return name, n, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--quick", action="store_true", help="5k rows: check the script, not the speed")
    ap.add_argument("--skip", nargs="*", default=[], help="contenders to skip: ours datasets loop ceiling")
    args = ap.parse_args()
    n = 5_000 if args.quick else args.rows
    # import every library up front so no contender pays another's import time
    import datasets  # noqa: F401
    import polars  # noqa: F401
    import pyarrow.json  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    import dataforge.formats.api  # noqa: F401
    work = Path(tempfile.mkdtemp(prefix="bench-convert-"))
    try:
        src = work / "sharegpt.jsonl"
        synth(src, n)
        mb = src.stat().st_size / 1e6
        print(f"input: {n} ShareGPT records, {mb:.1f} MB, cpus={os.cpu_count()}")
        runs = {
            "ceiling": lambda: run_ceiling(src, work / "ceiling.parquet"),
            "ours": lambda: run_ours(src, work / "ours.parquet"),
            "loop": lambda: run_loop(src, work / "loop.parquet"),
            "datasets": lambda: run_datasets(src, work / "datasets.parquet", work / "hf-cache"),
        }
        # one small warm-up run each, so no contender pays one-time costs (lazy imports,
        # regex compilation) inside its timing
        tiny = work / "warmup.jsonl"
        synth(tiny, 200, seed=1)
        for name in runs:
            if name not in args.skip:
                warm = {"ceiling": run_ceiling, "ours": run_ours, "loop": run_loop}.get(name)
                if warm is not None:
                    warm(tiny, work / f"warm-{name}.parquet")
                else:
                    run_datasets(tiny, work / "warm-datasets.parquet", work / "hf-cache-warm")
        results = [timed(k, fn) for k, fn in runs.items() if k not in args.skip]
        for name, rows, _ in results:
            if rows != n:
                raise SystemExit(f"{name} produced {rows} rows, expected {n}")
        speed = {name: rows / sec for name, rows, sec in results}
        print(f"{'contender':<10} {'seconds':>8} {'rows/s':>10} {'ours x':>8}")
        for name, rows, sec in results:
            ratio = speed.get("ours", 0) / speed[name] if name != "ours" and "ours" in speed else 1.0
            print(f"{name:<10} {sec:>8.2f} {speed[name]:>10.0f} {ratio:>8.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
