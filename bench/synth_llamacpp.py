"""The in-process ``llamacpp`` engine against the ``transformers`` engine on CPU.

    python bench/synth_llamacpp.py            # 48 prompts, 128 new tokens
    python bench/synth_llamacpp.py --quick    # 8 prompts, 32 new tokens

Same prompts (English and Chinese), greedy, the embedded SmolLM2-135M-Instruct: the
GGUF as shipped (Q4_1) in llama.cpp, and its dequantized fp32 copy in transformers
(``batch_size`` 8, its default). Prints samples/s and tokens/s of each, the ratio, and
how often the greedy outputs agree: identical texts, and the mean share of the shorter
text that is a common prefix (the quantized and the fp32 computations drift apart).
``--threads`` sets llama.cpp's threads per instance and torch's; each contender runs
``--repeat`` times, interleaved, and its fastest run counts (the machine may be shared).
"""

from __future__ import annotations

import argparse
import os
import time

from dataforge.synth.engines import GenerationParams, GenerationRequest, make_engine

TOPICS = ["sleep", "travel", "cooking", "exercise", "reading", "saving money",
          "学习编程", "喝茶", "早睡早起", "种花"]


def requests(n: int) -> list[GenerationRequest]:
    texts = [f"Give me one practical tip about {t}." if t.isascii() else f"请给我一个关于{t}的实用建议。"
             for t in TOPICS]
    return [GenerationRequest.from_messages([{"role": "user", "content": texts[i % len(texts)] + f" ({i})"}])
            for i in range(n)]


def timed(engine, reqs, params):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    out = engine.generate(reqs, params)
    seconds = time.perf_counter() - start
    return seconds, [s[0] for s in out]


def common_prefix_share(a: str, b: str) -> float:
    shorter = min(len(a), len(b))
    if shorter == 0:
        return float(a == b)
    same = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), shorter)
    return same / shorter


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompts", type=int, default=48)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds; the fastest of each counts")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.prompts, args.max_new_tokens = 8, 32
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    reqs = requests(args.prompts)
    params = GenerationParams(max_new_tokens=args.max_new_tokens)
    options = {"n_threads": args.threads} if args.threads else {}
    with make_engine("llamacpp", **options) as fast, make_engine("transformers", batch_size=8) as hf:
        for engine in (fast, hf):
            engine.generate(reqs[:1], GenerationParams(max_new_tokens=4))  # warm-up
        llama_s = hf_s = float("inf")
        for _ in range(args.repeat):  # interleaved, so a noisy neighbour hurts both alike
            seconds, llama_out = timed(fast, reqs, params)
            llama_s = min(llama_s, seconds)
            seconds, hf_out = timed(hf, reqs, params)
            hf_s = min(hf_s, seconds)
    print(f"{args.prompts} prompts, {args.max_new_tokens} new tokens, greedy, cores {len(os.sched_getaffinity(0))}")
    print(f"{'engine':14s} {'seconds':>8s} {'samples/s':>10s} {'tokens/s':>9s}")
    for name, seconds, out in (("llamacpp", llama_s, llama_out), ("transformers", hf_s, hf_out)):
        tokens = sum(g.completion_tokens for g in out)
        print(f"{name:14s} {seconds:8.2f} {len(out) / seconds:10.2f} {tokens / seconds:9.1f}")
    same = sum(a.text == b.text for a, b in zip(llama_out, hf_out))
    prefix = sum(common_prefix_share(a.text, b.text) for a, b in zip(llama_out, hf_out)) / len(reqs)
    print(f"llamacpp is {hf_s / llama_s:.2f}x the transformers engine; greedy agreement: "
          f"{same}/{len(reqs)} identical texts, mean common prefix {prefix:.0%}")


if __name__ == "__main__":
    main()
