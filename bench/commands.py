"""Whole commands, each in its own process: `dataforge convert` and `dataforge apply` against
their peers, with wall time and peak RSS (``resource.getrusage`` of the child).

    python bench/commands.py --rows 50000                 # both corpora, convert + apply + start-up
    python bench/commands.py --quick                      # 3k rows, to check the script
    python bench/commands.py --rows 200000 --only apply   # apply's memory growth (50k vs 200k)

Convert contenders, same input file, canonical Parquet out, each a fresh ``python``:

* ``dataforge convert IN OUT`` (the CLI, start-up included);
* datasets: ``load_dataset("json")`` + ``map`` to the canonical layout + ``to_parquet``;
* json loop: ``json.loads`` per line + dict building + one pyarrow write.

Apply: ``dataforge apply IN OUT --op normalize --op dedup.exact --op dedup.near --op pii.mask``
at ``--rows`` and at a quarter of it: peak RSS against the input size (goal <= 4x at 50k)
and how it grows with the rows (goal: sublinear). Start-up: ``dataforge convert`` on a
100-line file against ``python -c "import pyarrow"``; run ``python -X importtime -m
dataforge.cli.main convert ...`` to see what it imports.

Corpora: synthetic (bench/convert.py's generator, the project's own) and realistic
(bench/corpus.py). Timings on a shared machine are not results; run this on a quiet one.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

PEERS = {
    "datasets": "from convert import run_datasets; import sys; from pathlib import Path; "
                "run_datasets(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[2] + '.cache'))",
    "json loop": "from convert import run_loop; import sys; from pathlib import Path; "
                 "run_loop(Path(sys.argv[1]), Path(sys.argv[2]))",
}


def child(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB, ``os.wait4``: this child's own) of one command."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{BENCH}", "OMP_WAIT_POLICY": "PASSIVE",
           "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed with exit code {proc.returncode}")
    return seconds, usage.ru_maxrss / 1024


def dataforge(*args: str) -> list[str]:
    return [sys.executable, "-m", "dataforge.cli.main", *args]


def make_inputs(work: Path, rows: int) -> dict[str, Path]:
    from convert import synth
    from corpus import realistic, write

    synthetic = work / "synthetic.jsonl"
    synth(synthetic, rows)
    return {"synthetic": synthetic, "realistic": write(realistic(rows), work / "realistic.jsonl")}


def bench_convert(inputs: dict[str, Path], work: Path) -> None:
    print(f"{'corpus':<10} {'contender':<18} {'MB in':>7} {'seconds':>8} {'peak MiB':>9} {'dataforge x':>12}")
    for name, src in inputs.items():
        mb = src.stat().st_size / 2**20
        out = work / f"{name}.parquet"
        shutil.rmtree(work / f"{name}.rejected", ignore_errors=True)
        ours = child(dataforge("convert", str(src), str(out), "--overwrite"))
        print(f"{name:<10} {'dataforge convert':<18} {mb:>7.1f} {ours[0]:>8.2f} {ours[1]:>9.0f} {1.0:>12.2f}")
        for peer, code in PEERS.items():
            seconds, peak = child([sys.executable, "-c", code, str(src), str(work / f"{name}-{peer}.parquet")])
            print(f"{name:<10} {peer:<18} {mb:>7.1f} {seconds:>8.2f} {peak:>9.0f} {seconds / ours[0]:>12.2f}")


def bench_apply(inputs: dict[str, Path], work: Path, rows: int) -> None:
    from corpus import iter_lines, realistic

    print(f"\n{'corpus':<10} {'rows':>8} {'MB in':>7} {'seconds':>8} {'peak MiB':>9} {'peak / input':>13}")
    ops = ["--op", "normalize", "--op", "dedup.exact", "--op", "dedup.near", "--op", "pii.mask"]
    quarter = work / "realistic-quarter.jsonl"
    quarter.write_text("".join(line + "\n" for line in iter_lines(realistic(max(rows // 4, 1)))), encoding="utf-8")
    for name, src, n in [("realistic", quarter, max(rows // 4, 1)), ("realistic", inputs["realistic"], rows),
                         ("synthetic", inputs["synthetic"], rows)]:
        mb = src.stat().st_size / 2**20
        out = work / f"apply-{src.stem}.parquet"
        seconds, peak = child(dataforge("apply", str(src), str(out), *ops, "--overwrite"))
        print(f"{name:<10} {n:>8} {mb:>7.1f} {seconds:>8.2f} {peak:>9.0f} {peak / mb:>12.1f}x")


def bench_startup(work: Path) -> None:
    small = work / "small.jsonl"
    small.write_text("".join(json.dumps({"conversations": [{"from": "human", "value": f"q{i}"},
                                                            {"from": "gpt", "value": "a"}]}) + "\n" for i in range(100)))
    runs = {"python -c 'import pyarrow'": [sys.executable, "-c", "import pyarrow"],
            "dataforge convert (100 lines)": dataforge("convert", str(small), str(work / "small.parquet"), "--overwrite")}
    print()
    for name, cmd in runs.items():
        best = min(child(cmd)[0] for _ in range(5))
        print(f"start-up {name:<32} {best:.2f} s (fastest of 5; goal for convert: <= 0.4 s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--quick", action="store_true", help="3k rows: check the script, not the numbers")
    ap.add_argument("--only", choices=["convert", "apply", "startup"], default=None)
    args = ap.parse_args()
    rows = 3_000 if args.quick else args.rows
    work = Path(tempfile.mkdtemp(prefix="bench-commands-"))
    try:
        inputs = make_inputs(work, rows)
        if args.only in (None, "convert"):
            bench_convert(inputs, work)
        if args.only in (None, "apply"):
            bench_apply(inputs, work, rows)
        if args.only in (None, "startup"):
            bench_startup(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
