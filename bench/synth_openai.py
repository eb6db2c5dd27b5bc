"""The ``openai`` engine against the loop a user writes, side by side, in one process.

    python bench/synth_openai.py            # 200 prompts, 32 new tokens
    python bench/synth_openai.py --quick    # 24 prompts, 16 new tokens

Server: llama-cpp-python's OpenAI-compatible server on the embedded GGUF (1 thread per
server process). Contenders, all greedy on the same prompts:

* ``loop``: ``openai.OpenAI().chat.completions.create`` one request after another;
* ``engine c=8``: ``make_engine("openai", concurrency=8).generate(...)`` on one server;
* ``engine c=8, N servers``: the same over ``--servers`` server processes (``base_url``
  list: data parallel, requests spread by load);
* the same two ways through a proxy that adds ``--rtt`` seconds per request, standing in
  for a hosted API or a server across a network (labelled "remote").

llama-cpp-python's server decodes one request at a time (one model, one lock), so on one
server the engine can only overlap HTTP and JSON work with decoding; servers with
parallel slots (vLLM, SGLang, llama.cpp's C++ ``llama-server --parallel``) and remote
APIs are where concurrency pays. The script checks that every way returns the same texts.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

from dataforge import models  # noqa: E402
from dataforge.synth.engines import GenerationParams, GenerationRequest, make_engine  # noqa: E402

sys.path.append(str(REPO / "tests"))  # after dataforge is imported: tests/dataforge would shadow it
from http_servers import CountingProxy, start_llama_server  # noqa: E402

TOPICS = ["a fruit", "a city", "a color", "an animal", "a tool", "a river", "a planet", "a sport",
          "一种水果", "一座城市", "一种颜色", "一种动物"]


def prompts(n: int) -> list[str]:
    return [f"Describe {TOPICS[i % len(TOPICS)]} in one sentence. (#{i})" for i in range(n)]


def loop(url: str, texts: list[str], max_tokens: int) -> tuple[float, list[str]]:
    import openai

    client = openai.OpenAI(base_url=url, api_key="none")
    start = time.perf_counter()
    out = [client.chat.completions.create(model="m", messages=[{"role": "user", "content": t}],
                                          max_tokens=max_tokens, temperature=0.0).choices[0].message.content or ""
           for t in texts]
    return time.perf_counter() - start, out


def engine(urls: list[str], texts: list[str], max_tokens: int) -> tuple[float, list[str]]:
    requests = [GenerationRequest.from_messages([{"role": "user", "content": t}]) for t in texts]
    with make_engine("openai", None, base_url=urls, concurrency=8) as e:
        start = time.perf_counter()
        out = e.generate(requests, GenerationParams(max_new_tokens=max_tokens))
        return time.perf_counter() - start, [s[0].text for s in out]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--rtt", type=float, default=0.25, help="seconds the 'remote' proxy adds per request")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.prompts, args.max_new_tokens = 24, 16
    texts = prompts(args.prompts)
    logs = Path(tempfile.mkdtemp(prefix="bench-openai-"))
    servers = [start_llama_server(models.smollm_gguf_path(), logs / f"server{i}.log") for i in range(args.servers)]
    urls = [url for _, url in servers]
    try:
        engine([urls[0]], texts[:2], 4)  # warm-up: model pages, connection
        rows = []
        base_s, base_out = loop(urls[0], texts, args.max_new_tokens)
        rows.append(("loop (1 server)", base_s, base_out))
        rows.append(("engine c=8 (1 server)", *engine([urls[0]], texts, args.max_new_tokens)))
        rows.append((f"engine c=8 ({args.servers} servers)", *engine(urls, texts, args.max_new_tokens)))
        with CountingProxy(urls[0], delay_s=args.rtt) as remote:
            remote_url = remote.url
            r_loop = loop(remote_url, texts, args.max_new_tokens)
            r_engine = engine([remote_url], texts, args.max_new_tokens)
        print(f"{args.prompts} prompts, {args.max_new_tokens} new tokens, greedy")
        print(f"{'contender':32s} {'seconds':>8s} {'samples/s':>10s} {'vs loop':>8s} {'same texts':>11s}")
        for name, seconds, out in rows:
            print(f"{name:32s} {seconds:8.2f} {len(texts) / seconds:10.2f} {base_s / seconds:7.2f}x "
                  f"{out == base_out!s:>11s}")
        print(f"{'remote loop (+%.2fs rtt)' % args.rtt:32s} {r_loop[0]:8.2f} {len(texts) / r_loop[0]:10.2f} "
              f"{'1.00x':>8s} {r_loop[1] == base_out!s:>11s}")
        print(f"{'remote engine c=8':32s} {r_engine[0]:8.2f} {len(texts) / r_engine[0]:10.2f} "
              f"{r_loop[0] / r_engine[0]:7.2f}x {r_engine[1] == base_out!s:>11s}")
    finally:
        for proc, _ in servers:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
