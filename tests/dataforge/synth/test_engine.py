"""The engine registry and the transformers engine, on the real embedded SmolLM2-135M."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from dataforge.synth import engines
from dataforge.synth.engines import (
    Engine,
    Generation,
    GenerationParams,
    GenerationRequest,
    engine_kinds,
    make_engine,
    register_engine,
)
from dataforge.synth.engines.transformers_engine import TransformersEngine, model_fingerprint

SPECIAL = ("<|im_start|>", "<|im_end|>", "<|endoftext|>")


def ask(text: str) -> GenerationRequest:
    return GenerationRequest.from_messages([{"role": "user", "content": text}])


@pytest.fixture(scope="module")
def engine(smollm_path) -> TransformersEngine:
    built = make_engine("transformers", batch_size=4)  # model=None: the embedded default
    assert isinstance(built, TransformersEngine)
    assert built.path == smollm_path
    return built


def test_registry_knows_transformers_and_names_the_known_kinds_on_error():
    assert "transformers" in engine_kinds()
    with pytest.raises(KeyError, match="transformers"):
        make_engine("no-such-engine")


def test_a_new_engine_slots_in_by_registering_its_class(monkeypatch):
    """The mechanism vllm/openai will use. The class here is a registry fixture, not a
    generation stand-in: it only proves make_engine finds and builds registered kinds."""
    monkeypatch.setattr(engines.ENGINES, "_items", dict(engines.ENGINES._items))

    @register_engine
    class Reverse(Engine):
        kind = "test-reverse"

        def __init__(self, model: str | None = None, *, suffix: str = "") -> None:
            super().__init__(model or "none")
            self.suffix = suffix

        def _generate(self, requests, params):
            return [[Generation(r.messages[-1]["content"][::-1] + self.suffix)] * params.n for r in requests]

    built = make_engine("test-reverse", suffix="!")
    assert built.generate([ask("abc")])[0][0].text == "cba!"
    assert "test-reverse" in engine_kinds()

    class Impostor(Reverse):
        kind = "test-reverse"

    with pytest.raises(ValueError, match="already registered"):
        register_engine(Impostor)


@pytest.mark.slow
def test_greedy_batches_match_single_requests_and_n_copies(engine, monkeypatch):
    requests = [ask("Name a color."), ask("What is the capital of France? Answer in one word.")]
    params = GenerationParams(max_new_tokens=8, n=2)
    batched = engine.generate(requests, params)
    monkeypatch.setattr(engine, "batch_size", 1)
    single = [engine.generate([r], dataclasses.replace(params, n=1))[0][0] for r in requests]
    assert [len(samples) for samples in batched] == [2, 2]
    for samples, alone in zip(batched, single):
        assert samples[0].text == samples[1].text == alone.text
        assert samples[0] is not samples[1]  # callers may mutate one sample (e.g. .cached)
        assert alone.text and not any(tok in alone.text for tok in SPECIAL)
        assert 0 < alone.completion_tokens <= 8
        assert alone.finish_reason in ("stop", "length")


@pytest.mark.slow
def test_sampling_is_seeded_per_request_not_per_batch(engine):
    poem, story = ask("Write a poem about the sea."), ask("Tell me a story about a fox.")
    params = GenerationParams(max_new_tokens=8, temperature=1.0, top_p=0.95, top_k=50, n=2, seed=3)
    together = engine.generate([poem, story], params)
    alone = engine.generate([story], params)
    assert [g.text for g in together[1]] == [g.text for g in alone[0]]
    assert together[1][0].text != together[1][1].text  # the n samples are distinct draws
    reseeded = engine.generate([story], dataclasses.replace(params, seed=4))
    assert [g.text for g in reseeded[0]] != [g.text for g in alone[0]]


@pytest.mark.slow
def test_stop_strings_cut_the_text_and_finish_reasons(engine):
    capital = ask("What is the capital of France? Answer in one word.")
    full = engine.generate([capital], GenerationParams(max_new_tokens=16))[0][0]
    assert full.finish_reason == "stop" and full.completion_tokens < 16  # ended on <|im_end|>
    words = full.text.split()
    stop = words[len(words) // 2]
    cut = engine.generate([capital], GenerationParams(max_new_tokens=16, stop=[stop, "\u2603"]))[0][0]
    assert cut.text == full.text[: full.text.index(stop)]
    assert cut.finish_reason == "stop"
    assert cut.completion_tokens <= full.completion_tokens

    long = engine.generate([ask("Write a long story about a dragon.")], GenerationParams(max_new_tokens=4))[0][0]
    assert long.finish_reason == "length" and long.completion_tokens == 4


@pytest.mark.slow
def test_unrunnable_requests_are_error_samples_not_a_crash(engine, monkeypatch):
    short, huge = ask("Hi."), ask("word " * 300)
    bad_call = GenerationRequest.from_messages([
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": None,
         "tool_calls": [{"id": "c1", "name": "get_weather", "arguments": "{city: Paris"}]},
    ])
    short_tokens = len(engine.tokenizer(engine.render(short), add_special_tokens=False)["input_ids"])
    monkeypatch.setattr(engine, "max_length", short_tokens + 2)
    out = engine.generate([huge, bad_call, short], GenerationParams(max_new_tokens=2, n=2))
    assert [g.finish_reason for g in out[0] + out[1]] == ["error"] * 4
    assert "max_length" in out[0][0].error
    assert "chat template failed" in out[1][0].error and "arguments" in out[1][0].error
    assert out[2][0].finish_reason in ("stop", "length") and out[2][0].error is None


@pytest.mark.slow
def test_tools_and_tool_calls_reach_the_chat_template(engine, monkeypatch):
    template = (
        "{% for t in tools or [] %}TOOL {{ t.function.name }}\n{% endfor %}"
        "{% for m in messages %}{{ m.role }}: {{ m.content }}"
        "{% for c in m.tool_calls or [] %} CALL {{ c.function.name }} {{ c.function.arguments | tojson }}"
        "{% endfor %}\n{% endfor %}"
    )
    monkeypatch.setattr(engine.tokenizer, "chat_template", template)
    tools = json.dumps([{"type": "function", "function": {"name": "get_weather", "parameters": {}}}])
    request = GenerationRequest.from_messages(
        [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": None,
             "tool_calls": [{"id": "c1", "name": "get_weather", "arguments": '{"city": "Paris"}'}]},
            {"role": "tool", "content": "sunny", "tool_call_id": "c1"},
        ],
        tools=tools,
    )
    rendered = engine.render(request)
    assert "TOOL get_weather" in rendered
    assert 'CALL get_weather {"city": "Paris"}' in rendered  # arguments parsed, not a string


@pytest.mark.slow
def test_fingerprint_follows_model_content_not_its_path(engine, smollm_path, tmp_path: Path):
    original = tmp_path / "a"
    original.mkdir()
    (original / "config.json").write_text('{"hidden_size": 8}')
    (original / "model.safetensors").write_bytes(b"\0" * 64)
    copy = tmp_path / "elsewhere" / "b"
    shutil.copytree(original, copy)  # copy2 keeps mtimes, like rsync -a
    assert model_fingerprint(str(copy)) == model_fingerprint(str(original))

    (copy / "config.json").write_text('{"hidden_size": 16}')
    assert model_fingerprint(str(copy)) != model_fingerprint(str(original))
    shutil.copy2(original / "config.json", copy / "config.json")
    (copy / "model.safetensors").write_bytes(b"\1" * 65)  # re-saved weights
    assert model_fingerprint(str(copy)) != model_fingerprint(str(original))

    assert engine.fingerprint() == f"transformers:{model_fingerprint(smollm_path)}:float32"
    assert smollm_path not in engine.fingerprint()


def test_a_chinese_character_cut_by_the_token_limit_is_dropped_not_replaced(engine):
    """The real tokenizer splits a Chinese character over several byte tokens; a length
    cut between them must not leave U+FFFD at the end (issue 15, item 6)."""
    ids = engine.tokenizer("北京是中国的首都，历史悠久。", add_special_tokens=False)["input_ids"]
    params = GenerationParams(max_new_tokens=len(ids))
    cut_mid_character = [k for k in range(1, len(ids)) if engine.tokenizer.decode(ids[:k]).endswith("\ufffd")]
    assert cut_mid_character  # the case exists with this tokenizer
    for k in range(1, len(ids)):
        generation = engine._to_generation(ids[:k], params)
        assert generation.finish_reason == "length" and not generation.text.endswith("\ufffd")
        assert "北京是中国的首都，历史悠久。".startswith(generation.text)
    text = engine.generate([ask("请用中文介绍一下北京。")], GenerationParams(max_new_tokens=5))[0][0].text
    assert not text.endswith("\ufffd")
