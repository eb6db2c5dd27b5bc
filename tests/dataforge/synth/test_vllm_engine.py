"""The ``vllm`` engine without vLLM or a GPU (neither exists on the CI machines).

What can be checked here is checked for real: the one-line refusal and the translation of
requests and params into vLLM's sequences and ``SamplingParams`` arguments, and how
decoded outputs are put back per request. The one stand-in is ``vllm`` being importable
while no GPU is visible (``find_spec`` patched): that combination cannot exist here.
"""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace

import pytest

from dataforge.synth.engines import GenerationParams, GenerationRequest, engine_kinds, make_engine
from dataforge.synth.engines.base import request_seed
from dataforge.synth.engines.vllm_engine import (
    EngineUnavailable, assemble, plan_sequences, sampling_kwargs, to_generation,
)


def ask(text: str, tools: str | None = None) -> GenerationRequest:
    return GenerationRequest.from_messages([{"role": "user", "content": text}], tools=tools)


def test_vllm_is_listed_and_refuses_in_one_line_naming_the_alternatives():
    assert "vllm" in engine_kinds()
    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vLLM is installed here")
    with pytest.raises(EngineUnavailable) as info:
        make_engine("vllm")
    message = str(info.value)
    assert "not installed" in message and "'openai'" in message and "'transformers'" in message
    assert "\n" not in message


def test_without_a_gpu_the_refusal_says_so(monkeypatch):
    """Stand-in: vLLM importable (it cannot be installed without CUDA here)."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: SimpleNamespace(name=name) if name == "vllm" else real(name, *a))
    with pytest.raises(EngineUnavailable, match="needs a CUDA GPU and none is visible.*'openai'"):
        make_engine("vllm")


def test_bad_options_fail_before_anything_loads():
    with pytest.raises(ValueError, match="did you mean 'tensor_parallel_size'"):
        make_engine("vllm", tensor_paralel_size=2)


def test_sampled_requests_become_one_seeded_sequence_per_sample():
    requests = [ask("a"), ask("b", tools='[{"name": "f", "parameters": {"type": "object"}}]')]
    params = GenerationParams(max_new_tokens=7, temperature=0.9, top_p=0.8, top_k=0, n=3, seed=5, stop=("\n\n",))
    planned, errors = plan_sequences(requests, params)
    assert not errors and len(planned) == 6
    assert [(s.request, s.sample) for s in planned] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    assert [s.sampling["seed"] for s in planned[:3]] == [request_seed(requests[0], 5, j) for j in range(3)]
    first = planned[0].sampling
    assert first == {"n": 1, "max_tokens": 7, "temperature": 0.9, "top_p": 0.8, "top_k": -1,
                     "repetition_penalty": 1.0, "stop": ["\n\n"], "seed": first["seed"]}
    assert planned[3].tools == requests[1].tools
    assert planned[0].conversation == [{"role": "user", "content": "a"}]


def test_greedy_decodes_once_and_copies_and_bad_requests_become_errors():
    broken = GenerationRequest.from_messages([
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "1", "name": "f", "arguments": "{not json"}]},
    ])
    params = GenerationParams(max_new_tokens=4, n=2)
    planned, errors = plan_sequences([ask("ok"), broken], params)
    assert len(planned) == 1 and "seed" not in planned[0].sampling and planned[0].sampling["top_k"] == -1
    assert 1 in errors and "not valid JSON" in errors[1]
    out = SimpleNamespace(text="北京是中国的首\ufffd", finish_reason="length", token_ids=[1, 2, 3, 4])
    results = assemble(2, params, planned, [to_generation(out)], errors)
    assert [g.text for g in results[0]] == ["北京是中国的首"] * 2
    assert results[0][0].completion_tokens == 4 and results[0][0].finish_reason == "length"
    assert results[0][0] is not results[0][1]
    assert [g.finish_reason for g in results[1]] == ["error", "error"]


def test_sampling_kwargs_keep_an_explicit_top_k():
    assert sampling_kwargs(GenerationParams(top_k=50, temperature=1.0), 3)["top_k"] == 50
