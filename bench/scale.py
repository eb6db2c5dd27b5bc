"""Scale benchmark: the local executor's curve, and the Ray executor against it.

    python bench/scale.py            # curve at 10k, 100k, 1M; Ray vs local at 100k (about an hour)
    python bench/scale.py --quick    # curve at 2k, 10k; Ray vs local at 10k (a few minutes)

Data: bench/scale_corpus.py (ShareGPT JSON Lines, half English half Chinese, with exact and
near copies, PII and broken lines), generated once per size under ``--work``.
Chain: read (the conversion of ``dataforge convert``) + normalize + dedup.exact +
dedup.near + pii.mask, i.e. ``dataforge apply IN OUT --op ...``.

1. **Local scaling curve**: each size in a fresh process under ``/usr/bin/time -v``:
   wall seconds and peak RSS. Goals: time linear in the size; peak RSS at 1M <= 2 GiB.
2. **Ray vs local**, same input, each in a fresh process: the local executor, then the
   Ray executor on a local runtime with 1 and with 2 worker CPUs. Each is timed after a
   warm-up job on 2k records in the same process (imports done, presidio loaded; for Ray
   the workers started), i.e. the steady cost; the Ray runtime's start-up is reported
   separately. Prints the
   overhead ratio (Ray 2 workers / local; goal <= 1.5x on 2 cores) and the speed-up
   from 1 to 2 workers. Kept and rejected counts must agree.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHAIN = ["normalize", "dedup.exact", "dedup.near", "pii.mask"]


def _corpus(work: Path, n: int) -> Path:
    path = work / f"corpus-{n}.jsonl"
    if not path.exists():
        sys.path.insert(0, str(REPO / "bench"))
        from scale_corpus import write_corpus

        write_corpus(path, n, seed=0)
    return path


def _time_v(args: list[str]) -> dict[str, float]:
    """Run ``args`` under /usr/bin/time -v: wall seconds, peak RSS (MiB), exit status."""
    proc = subprocess.run(["/usr/bin/time", "-v", *args], capture_output=True, text=True, cwd=REPO)
    if proc.returncode:
        raise SystemExit(f"failed: {' '.join(args)}\n{proc.stderr[-3000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", proc.stderr).group(1)
    seconds = sum(float(part) * 60 ** i for i, part in enumerate(reversed(wall.split(":"))))
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    return {"seconds": seconds, "peak_rss_mib": rss_kb / 1024}


def curve(work: Path, sizes: list[int]) -> None:
    print(f"local executor, {' + '.join(['read'] + CHAIN)}")
    print(f"{'records':>9} {'seconds':>9} {'rec/s':>9} {'peak RSS MiB':>13}")
    for n in sizes:
        src = _corpus(work, n)
        out = work / f"local-{n}.parquet"
        args = [sys.executable, "-m", "dataforge.cli.main", "apply", str(src), str(out), "--overwrite"]
        result = _time_v(args + [a for op in CHAIN for a in ("--op", op)])
        print(f"{n:>9} {result['seconds']:>9.1f} {n / result['seconds']:>9.0f} {result['peak_rss_mib']:>13.0f}", flush=True)


def _child(src: Path, out: Path, mode: str) -> None:
    """One measurement in this (fresh) process; prints a JSON line."""
    from dataforge.rejects import RejectedWriter, rejected_folder

    warm = src.with_name("warmup.jsonl")  # the same job on 2k records first: imports, presidio
    warm.write_text("".join(src.read_text("utf-8").splitlines(keepends=True)[:2000]), encoding="utf-8")
    if mode == "local":
        from dataforge.executors.local import iter_apply
        from dataforge.formats.api import iter_load, open_writer

        for path, target in ((warm, out.with_name("warmup-out.parquet")), (src, out)):
            start = time.perf_counter()
            with RejectedWriter(rejected_folder(target), overwrite=True) as sink:
                kept, stats = iter_apply(iter_load(path), CHAIN, sink)
                with open_writer(target) as writer:
                    for shard in kept:
                        writer.write(shard)
            seconds, all_stats = time.perf_counter() - start, stats()
        print(json.dumps({"seconds": seconds, "kept": all_stats[-1]["rows_kept"],
                          "rejected": sum(s["rows_rejected"] for s in all_stats)}))
        return
    import ray

    from dataforge.executors.ray_executor import run_files

    start = time.perf_counter()
    ray.init(num_cpus=int(mode), include_dashboard=False, logging_level="ERROR")
    startup = time.perf_counter() - start
    for path, target in ((warm, out.with_name("warmup-out")), (src, out)):
        start = time.perf_counter()
        with RejectedWriter(rejected_folder(target), overwrite=True) as sink:
            run = run_files([path], CHAIN, sink, output=target, overwrite=True)
        seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "startup": startup, "kept": run.rows_kept,
                      "rejected": sum(s["rows_rejected"] for s in run.stats)}))


def versus(work: Path, n: int) -> None:
    src = _corpus(work, n)
    results = {}
    for mode in ("local", "1", "2"):
        out = work / (f"versus-local-{n}.parquet" if mode == "local" else f"versus-ray{mode}-{n}")
        proc = subprocess.run([sys.executable, __file__, "--child", mode, str(src), str(out)],
                              capture_output=True, text=True, cwd=REPO)
        if proc.returncode:
            raise SystemExit(f"{mode} failed:\n{proc.stderr[-3000:]}")
        results[mode] = json.loads(proc.stdout.strip().splitlines()[-1])
    local, one, two = results["local"], results["1"], results["2"]
    print(f"\nRay executor vs local, {n} records")
    print(f"{'run':<16} {'seconds':>9} {'kept':>8} {'rejected':>9} {'runtime start s':>16}")
    for name, r in (("local", local), ("ray, 1 worker", one), ("ray, 2 workers", two)):
        print(f"{name:<16} {r['seconds']:>9.1f} {r['kept']:>8} {r['rejected']:>9} {r.get('startup', 0):>16.1f}")
    same = local["kept"] == one["kept"] == two["kept"] and local["rejected"] == one["rejected"] == two["rejected"]
    print(f"overhead ratio (ray 2 workers / local): {two['seconds'] / local['seconds']:.2f}x (goal <= 1.5x)")
    print(f"speed-up 1 -> 2 workers: {one['seconds'] / two['seconds']:.2f}x; same counts: {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a few minutes)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/posttrain-bench-scale"), help="data and outputs")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "SRC", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, src, out = args.child
        _child(Path(src), Path(out), mode)
        return
    args.work.mkdir(parents=True, exist_ok=True)
    curve(args.work, [2_000, 10_000] if args.quick else [10_000, 100_000, 1_000_000])
    versus(args.work, 10_000 if args.quick else 100_000)


if __name__ == "__main__":
    main()
