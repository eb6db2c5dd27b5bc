"""A finished best-of-4 rerun on a warm generation cache vs its first run.

    python bench/synth_rerun.py            # 50 prompts, 32 new tokens
    python bench/synth_rerun.py --quick    # 8 prompts, 16 new tokens

Best-of-4 through the ``openai`` engine (concurrency 8) against llama-cpp-python's
server on the embedded GGUF, behind a counting proxy, scored by a rule verifier
(``length``) and the judge (same model); the step's own time is measured, first run
then rerun in a new ``CachedEngine`` over the same SQLite cache (what a rerun of the
command or recipe does). Goal: rerun >= 100x faster and zero requests.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

from dataforge import models  # noqa: E402
from dataforge.schemas import from_dicts, message  # noqa: E402
from dataforge.synth.cache import CachedEngine, GenerationCache  # noqa: E402
from dataforge.synth.engines import make_engine  # noqa: E402
from dataforge.synth.steps import best_of_k  # noqa: E402

sys.path.append(str(REPO / "tests"))  # after dataforge is imported: tests/dataforge would shadow it
from http_servers import CountingProxy, start_llama_server  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompts", type=int, default=50)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.prompts, args.max_new_tokens = 8, 16
    records = from_dicts([{"messages": [message("user", f"Give one tip about {t} (#{i}).")]}
                          for i, t in enumerate(["sleep", "travel", "cooking", "学习", "运动"] * args.prompts)][:args.prompts])
    config = {"k": 4, "keep_truncated": True, "generation": {"max_new_tokens": args.max_new_tokens, "temperature": 0.8},
              "scorers": {"length": {"max_chars": 80, "slack": 2.0},
                          "judge": {"weight": 0.5, "max_new_tokens": args.max_new_tokens, "retries": 0}}}
    work = Path(tempfile.mkdtemp(prefix="bench-rerun-"))
    proc, url = start_llama_server(models.smollm_gguf_path(), work / "server.log")
    try:
        with CountingProxy(url) as proxy, make_engine("openai", None, base_url=proxy.url, concurrency=8) as inner:
            times, results = [], []
            for _ in range(2):
                with GenerationCache(work / "cache.sqlite") as cache:
                    engine = CachedEngine(inner, cache)
                    before, start = proxy.calls, time.perf_counter()
                    results.append(best_of_k(records, engine, config, progress=False))
                    times.append((time.perf_counter() - start, proxy.calls - before))
    finally:
        proc.terminate()
        proc.wait()
    (first_s, first_n), (again_s, again_n) = times
    same = all(a.equals(b) for a, b in [(results[0].kept, results[1].kept),
                                        (results[0].outputs["dpo"], results[1].outputs["dpo"]),
                                        (results[0].outputs["kto"], results[1].outputs["kto"])])
    print(f"best-of-4, {args.prompts} prompts, {args.max_new_tokens} new tokens, length + judge scorers")
    print(f"first run  {first_s:9.3f} s  {first_n:5d} requests")
    print(f"warm rerun {again_s:9.3f} s  {again_n:5d} requests")
    print(f"speed-up {first_s / again_s:.0f}x, identical outputs: {same}; kept {results[0].kept.height}, "
          f"dpo {results[0].outputs['dpo'].height}, kto {results[0].outputs['kto'].height}")


if __name__ == "__main__":
    main()
