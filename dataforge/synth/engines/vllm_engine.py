"""The ``vllm`` engine: in-process ``vllm.LLM`` on CUDA GPUs, the fast path for large runs.

vLLM is imported only when this engine is built, and it is an optional extra (``pip install
'posttrain[vllm]'``, CUDA only). Without it, or without a visible GPU, building the engine
fails with one line that says which and names the alternatives: the ``openai`` engine
(talk to a ``vllm serve`` / SGLang / llama.cpp server) and the ``transformers`` engine.

Requests are translated the way every engine behaves:

* prompts go through ``LLM.chat`` (the model's own chat template, ``tools`` passed);
* greedy decoding (``temperature == 0``) asks once per request and copies the sample
  ``n`` times; sampling sends each of the ``n`` samples as its own sequence seeded with
  ``request_seed(request, seed, i)``, so a sample depends on (model, request, params)
  only, as the generation cache assumes (vLLM's prefix cache makes the repeated prompt
  almost free);
* ``top_k == 0`` (disabled) becomes vLLM's ``-1``; ``stop`` strings are cut by vLLM;
* a request the chat template cannot render, or that vLLM refuses (a prompt longer than
  ``max_model_len``), becomes ``finish_reason="error"``; the rest of the batch still runs.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from dataclasses import dataclass
from typing import Any, Sequence

from pydantic import Field

from ... import models
from ...chat_template import to_hf_conversation
from ...config import Config, validate_config
from ...errors import UserError
from . import register_engine
from .base import Engine, Generation, GenerationParams, GenerationRequest, drop_incomplete_char, request_seed

ALTERNATIVES = ("use engine 'openai' against a `vllm serve` (or SGLang, llama.cpp) server, "
                "or engine 'transformers'")


class EngineUnavailable(UserError, RuntimeError):
    """An engine whose library or hardware is missing on this machine."""


class VLLMEngineConfig(Config):
    """Options of the ``vllm`` engine (passed to ``vllm.LLM``)."""

    tensor_parallel_size: int = Field(1, ge=1, description="GPUs one model is split over")
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1, description="share of GPU memory vLLM may take")
    max_model_len: int | None = Field(None, gt=0, description="context length (prompt + completion); default the model's")
    dtype: str = Field("auto", description="weights dtype: auto, bfloat16, float16, float32")
    trust_remote_code: bool = Field(False, description="run model code shipped with a hub model")
    enable_prefix_caching: bool = Field(True, description="reuse the KV cache of shared prompt prefixes")


def require_vllm() -> None:
    """Raise :class:`EngineUnavailable` naming what is missing: the package or a GPU."""
    if importlib.util.find_spec("vllm") is None:
        raise EngineUnavailable(
            "engine 'vllm' needs the vLLM package (pip install 'posttrain[vllm]', CUDA GPUs only), "
            f"which is not installed; {ALTERNATIVES}"
        )
    import torch

    if not torch.cuda.is_available():
        raise EngineUnavailable(f"engine 'vllm' needs a CUDA GPU and none is visible; {ALTERNATIVES}")


def sampling_kwargs(params: GenerationParams, seed: int | None) -> dict[str, Any]:
    """Keyword arguments of ``vllm.SamplingParams`` for one sequence."""
    kwargs: dict[str, Any] = {
        "n": 1,
        "max_tokens": params.max_new_tokens,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "top_k": params.top_k if params.top_k > 0 else -1,
        "repetition_penalty": params.repetition_penalty,
        "stop": list(params.stop) or None,
    }
    if seed is not None:
        kwargs["seed"] = seed
    return kwargs


@dataclass(frozen=True)
class PlannedSequence:
    """One sequence to decode: which request and sample it fills, and how to decode it."""

    request: int
    sample: int
    conversation: list[dict[str, Any]]
    tools: str | None
    sampling: dict[str, Any]


def plan_sequences(requests: Sequence[GenerationRequest], params: GenerationParams
                   ) -> tuple[list[PlannedSequence], dict[int, str]]:
    """The sequences to decode for ``requests`` and the requests that cannot run (why)."""
    planned: list[PlannedSequence] = []
    errors: dict[int, str] = {}
    samples = 1 if params.greedy else params.n
    for i, request in enumerate(requests):
        try:
            conversation = to_hf_conversation(request.messages)
            if request.tools:
                json.loads(request.tools)
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            errors[i] = f"chat template failed: {exc}"
            continue
        for j in range(samples):
            seed = None if params.greedy else request_seed(request, params.seed, j)
            planned.append(PlannedSequence(i, j, conversation, request.tools, sampling_kwargs(params, seed)))
    return planned, errors


def to_generation(output: Any) -> Generation:
    """A vLLM ``CompletionOutput`` -> :class:`Generation`."""
    reason = "length" if output.finish_reason == "length" else "stop"
    text = drop_incomplete_char(output.text) if reason == "length" else output.text
    return Generation(text, finish_reason=reason, completion_tokens=len(output.token_ids))


def assemble(n_requests: int, params: GenerationParams, planned: list[PlannedSequence],
             decoded: list[Generation], errors: dict[int, str]) -> list[list[Generation]]:
    """Per request, ``params.n`` samples in order (greedy samples are copies of one)."""
    results: list[list[Generation | None]] = [[None] * params.n for _ in range(n_requests)]
    for seq, generation in zip(planned, decoded):
        results[seq.request][seq.sample] = generation
    for i, message in errors.items():
        results[i] = [Generation("", finish_reason="error", error=message) for _ in range(params.n)]
    out: list[list[Generation]] = []
    for row in results:
        first = row[0]
        assert first is not None
        out.append([g if g is not None else dataclasses.replace(first) for g in row])
    return out


@register_engine
class VLLMEngine(Engine):
    """``vllm.LLM`` in this process (see module docstring)."""

    kind = "vllm"
    Config = VLLMEngineConfig

    def __init__(self, model: str | None = None, **options: Any) -> None:
        self.config = validate_config(VLLMEngineConfig, options, "engine 'vllm'")
        require_vllm()
        from vllm import LLM, SamplingParams

        from .transformers_engine import model_fingerprint

        super().__init__(model or models.DEFAULT_CAUSAL_LM)
        self.path = models.resolve(model)
        cfg = self.config
        self.llm = LLM(
            model=self.path, tensor_parallel_size=cfg.tensor_parallel_size,
            gpu_memory_utilization=cfg.gpu_memory_utilization, max_model_len=cfg.max_model_len,
            dtype=cfg.dtype, trust_remote_code=cfg.trust_remote_code,
            enable_prefix_caching=cfg.enable_prefix_caching,
        )
        self._sampling_params = SamplingParams
        self._fingerprint = f"vllm:{model_fingerprint(self.path)}:{cfg.dtype}"

    def fingerprint(self) -> str:
        return self._fingerprint

    def _generate(self, requests: Sequence[GenerationRequest], params: GenerationParams) -> list[list[Generation]]:
        planned, errors = plan_sequences(requests, params)
        decoded: list[Generation] = [Generation("")] * len(planned)
        by_tools: dict[str | None, list[int]] = {}
        for k, seq in enumerate(planned):
            by_tools.setdefault(seq.tools, []).append(k)
        for tools, members in by_tools.items():
            for k, generation in zip(members, self._decode([planned[k] for k in members], tools)):
                decoded[k] = generation
        for seq, generation in zip(planned, decoded):
            if generation.finish_reason == "error":
                errors[seq.request] = generation.error or "vLLM refused the request"
        return assemble(len(requests), params, planned, decoded, errors)

    def _decode(self, seqs: list[PlannedSequence], tools: str | None) -> list[Generation]:
        """One ``LLM.chat`` call; if vLLM refuses the batch, each sequence alone (to find
        the one at fault and still decode the rest)."""
        tool_list = json.loads(tools) if tools else None
        if len(seqs) > 1:
            try:
                return self._chat(seqs, tool_list)
            except ValueError:
                pass
        out = []
        for seq in seqs:
            try:
                out += self._chat([seq], tool_list)
            except ValueError as exc:
                out.append(Generation("", finish_reason="error", error=f"vLLM refused the request: {exc}"))
        return out

    def _chat(self, seqs: list[PlannedSequence], tools: list[Any] | None) -> list[Generation]:
        outputs = self.llm.chat(
            [s.conversation for s in seqs],
            sampling_params=[self._sampling_params(**s.sampling) for s in seqs],
            use_tqdm=False, tools=tools,
        )
        return [to_generation(o.outputs[0]) for o in outputs]

    def close(self) -> None:
        """Drop the model so its GPU memory can be reused by the next engine."""
        if getattr(self, "llm", None) is not None:
            self.llm = None
            import gc

            gc.collect()
