"""Whole commands, each in its own process: `dataforge convert` and `dataforge apply` against
their peers, with wall time, CPU time and peak RSS (``os.wait4`` of the child).

    python bench/commands.py --rows 50000                 # both corpora, convert + apply + start-up
    python bench/commands.py --quick                      # 3k rows, to check the script
    python bench/commands.py --rows 200000 --only apply   # apply's memory growth (50k vs 200k)

Convert contenders, same input file, canonical Parquet out, each a fresh ``python``, run
``--repeat`` times interleaved (ours, datasets, loop, ours, ...); the medians are compared:

* ``dataforge convert IN OUT`` (the CLI, start-up included);
* datasets: ``load_dataset("json")`` + ``map`` to the canonical layout + ``to_parquet``;
* json loop: ``json.loads`` per line + dict building + one pyarrow write.

Wall time below CPU time means the command used more than one core: ``convert`` parses,
converts and writes in three threads (``dataforge.readahead``), which only shows on a
machine with a free core.

Apply: ``dataforge apply IN OUT --op normalize --op dedup.exact --op dedup.near --op pii.mask``
on the realistic corpus at a quarter of ``--rows`` and at ``--rows``: peak RSS against the
input size (goal <= 4x at 50k) and its growth for 4x the rows (goal: sublinear). About
300 MB of it is fixed (python, polars, pyarrow, presidio, spaCy, the first shard), so the
4x goal is for inputs of 100 MB and more (the synthetic corpus's 50k records are 65 MB).

Start-up: ``dataforge convert`` on a 100-line file against ``python -c "import polars,
pyarrow.parquet"`` (the floor: convert needs both), 15 runs interleaved; ``python -X
importtime -m dataforge.cli.main convert ...`` shows what else it imports.

Corpora: synthetic (bench/convert.py's generator, the project's own) and realistic
(bench/corpus.py). Timings on a shared machine are not results; run this on a quiet one.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
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


def child(cmd: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MiB) of one command."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{BENCH}", "OMP_WAIT_POLICY": "PASSIVE",
           "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "POSTTRAIN_PROGRESS": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # compiled once, as installed code would be
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{' '.join(cmd)} failed with exit code {os.waitstatus_to_exitcode(status)}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def dataforge(*args: str) -> list[str]:
    return [sys.executable, "-m", "dataforge.cli.main", *args]


def write_corpus(kind: str, rows: int, path: Path) -> Path:
    """Write a corpus in a child process: this process must stay small, because a child's
    peak RSS (``wait4``) counts the pages it shares with this process before ``exec``."""
    code = {
        "synthetic": "from convert import synth; import sys; from pathlib import Path; synth(Path(sys.argv[2]), int(sys.argv[1]))",
        "realistic": "from corpus import realistic, write; import sys; from pathlib import Path; "
                     "write(realistic(int(sys.argv[1])), Path(sys.argv[2]))",
    }[kind]
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{BENCH}"}
    subprocess.run([sys.executable, "-c", code, str(rows), str(path)], env=env, check=True)
    return path


def make_inputs(work: Path, rows: int) -> dict[str, Path]:
    return {kind: write_corpus(kind, rows, work / f"{kind}.jsonl") for kind in ("synthetic", "realistic")}


def bench_convert(inputs: dict[str, Path], work: Path, repeat: int) -> None:
    print(f"{'corpus':<10} {'contender':<18} {'MB in':>6} {'wall s':>7} {'cpu s':>6} {'peak MiB':>9} "
          f"{'dataforge x':>12}  (medians of {repeat}, interleaved)")
    for name, src in inputs.items():
        mb = src.stat().st_size / 2**20
        commands = {"dataforge convert": dataforge("convert", str(src), str(work / f"{name}.parquet"), "--overwrite")}
        for peer, code in PEERS.items():
            commands[peer] = [sys.executable, "-c", code, str(src), str(work / f"{name}-{peer}.parquet")]
        child(commands["dataforge convert"])  # warm-up: page cache, compiled modules
        runs: dict[str, list[tuple[float, float, float]]] = {k: [] for k in commands}
        for _ in range(repeat):
            for contender, cmd in commands.items():
                shutil.rmtree(work / f"{name}.rejected", ignore_errors=True)
                for cache in work.glob("*.cache"):  # datasets would reuse its cached load and map
                    shutil.rmtree(cache, ignore_errors=True)
                runs[contender].append(child(cmd))
        ours = statistics.median(r[0] for r in runs["dataforge convert"])
        for contender, results in runs.items():
            wall = statistics.median(r[0] for r in results)
            cpu = statistics.median(r[1] for r in results)
            peak = max(r[2] for r in results)
            print(f"{name:<10} {contender:<18} {mb:>6.1f} {wall:>7.2f} {cpu:>6.2f} {peak:>9.0f} {wall / ours:>12.2f}")


def bench_apply(work: Path, rows: int) -> None:
    print(f"\n{'corpus':<10} {'rows':>8} {'MB in':>7} {'wall s':>7} {'cpu s':>6} {'peak MiB':>9} {'peak / input':>13}")
    ops = ["--op", "normalize", "--op", "dedup.exact", "--op", "dedup.near", "--op", "pii.mask"]
    peaks = []
    for n in (max(rows // 4, 1), rows):
        src = write_corpus("realistic", n, work / f"apply-{n}.jsonl")
        mb = src.stat().st_size / 2**20
        seconds, cpu, peak = child(dataforge("apply", str(src), str(work / f"apply-{n}.parquet"), *ops, "--overwrite"))
        peaks.append(peak)
        print(f"{'realistic':<10} {n:>8} {mb:>7.1f} {seconds:>7.2f} {cpu:>6.2f} {peak:>9.0f} {peak / mb:>12.1f}x")
    print(f"peak grows {peaks[1] / peaks[0] - 1:+.0%} for 4x the rows (goal: sublinear); <= 4x the input at 50k")


def bench_startup(work: Path) -> None:
    small = work / "small.jsonl"
    small.write_text("".join(json.dumps({"conversations": [{"from": "human", "value": f"q{i}"},
                                                            {"from": "gpt", "value": "a"}]}) + "\n" for i in range(100)))
    runs = {"python -c 'import polars, pyarrow.parquet'": [sys.executable, "-c", "import polars, pyarrow.parquet"],
            "dataforge convert (100 lines)": dataforge("convert", str(small), str(work / "small.parquet"), "--overwrite")}
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(15):  # interleaved: a busy moment slows both
        for name, cmd in runs.items():
            times[name].append(child(cmd)[0])
    print()
    for name, seconds in times.items():
        print(f"start-up {name:<44} fastest {min(seconds):.2f} s, median {statistics.median(seconds):.2f} s (of 15)")
    floor, ours = (statistics.median(t) for t in times.values())
    print(f"start-up convert minus the imports it cannot avoid: {ours - floor:+.2f} s (median; goal for convert: <= 0.4 s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--quick", action="store_true", help="3k rows, one run each: check the script, not the numbers")
    ap.add_argument("--repeat", type=int, default=None, help="convert runs per contender (default 3; 1 with --quick)")
    ap.add_argument("--only", choices=["convert", "apply", "startup"], default=None)
    args = ap.parse_args()
    rows = 3_000 if args.quick else args.rows
    repeat = args.repeat or (1 if args.quick else 3)
    work = Path(tempfile.mkdtemp(prefix="bench-commands-"))
    try:
        if args.only in (None, "convert"):
            bench_convert(make_inputs(work, rows), work, repeat)
        if args.only in (None, "apply"):
            bench_apply(work, rows)
        if args.only in (None, "startup"):
            bench_startup(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
