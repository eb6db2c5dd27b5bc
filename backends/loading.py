"""Load models the way every stage, ``merge`` and the reward scorers need them.

A model reference is an alias (``smollm2``), a folder, a hub id, or the output of an
earlier stage. A stage's output holds a LoRA adapter whose ``adapter_config.json`` names
its base; that base may itself be an adapter (DPO trained on the SFT adapter), so
loading follows the chain down to a full model and folds every adapter in on the way
up. The result is a plain ``transformers`` model, the policy the next stage starts from
(and, with the new adapter disabled, its reference model).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dataforge import models
from dataforge.errors import UserError

ADAPTER_CONFIG = "adapter_config.json"
#: model folders inside a stage's output folder, in the order they are looked for
STAGE_MODEL_DIRS = ("adapter", "model")


def model_folder(ref: str | Path) -> str:
    """A reference -> what ``from_pretrained`` loads: a stage output folder becomes its
    ``adapter/`` or ``model/`` subfolder; aliases and hub ids resolve as in dataforge."""
    resolved = models.resolve(str(ref))
    path = Path(resolved)
    if path.is_dir() and not (path / "config.json").is_file() and not (path / ADAPTER_CONFIG).is_file():
        for name in STAGE_MODEL_DIRS:
            if (path / name).is_dir():
                return str(path / name)
    return resolved


def adapter_base(folder: str) -> str | None:
    """The base an adapter folder was trained on, or None when ``folder`` is a full model."""
    config = Path(folder) / ADAPTER_CONFIG
    if not config.is_file():
        return None
    base = json.loads(config.read_text(encoding="utf-8")).get("base_model_name_or_path")
    if not base:
        raise UserError(f"{config}: no base_model_name_or_path; cannot tell which model the adapter belongs to")
    return base


def adapter_task(folder: str) -> str | None:
    """peft task type of an adapter folder (``CAUSAL_LM``, ``SEQ_CLS``), or None."""
    config = Path(folder) / ADAPTER_CONFIG
    if not config.is_file():
        return None
    return json.loads(config.read_text(encoding="utf-8")).get("task_type")


def load_model(ref: str | Path, *, kind: str = "causal", **kwargs: Any) -> Any:
    """A plain transformers model for ``ref`` with every adapter of its chain merged in.

    ``kind`` is ``causal`` (``AutoModelForCausalLM``) or ``classifier``
    (``AutoModelForSequenceClassification``, one label: a reward model). ``kwargs`` go to
    ``from_pretrained`` of the full model at the bottom of the chain.
    """
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    folder = model_folder(ref)
    base = adapter_base(folder)
    if base is None:
        if kind == "classifier":
            kwargs.setdefault("num_labels", 1)
            return AutoModelForSequenceClassification.from_pretrained(folder, **kwargs)
        return AutoModelForCausalLM.from_pretrained(folder, **kwargs)
    model = load_model(base, kind=kind, **kwargs)
    return PeftModel.from_pretrained(model, folder).merge_and_unload()


def tokenizer_folder(ref: str | Path) -> str:
    """Where the tokenizer of ``ref`` lives: a stage output saves the tokenizer (and the
    chat template it trained with) beside its adapter; otherwise the base's folder."""
    folder = model_folder(ref)
    if (Path(folder) / "tokenizer_config.json").is_file() or adapter_base(folder) is None:
        return folder
    return tokenizer_folder(adapter_base(folder))  # type: ignore[arg-type]


def load_tokenizer(ref: str | Path) -> Any:
    """The tokenizer of ``ref`` with a pad token (the end-of-sequence token when it has none)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_folder(ref))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_reward_model(ref: str | Path, **kwargs: Any) -> tuple[Any, Any]:
    """(model, tokenizer) of a reward model: an ``rm`` stage output or any one-label
    sequence classifier; the pad token id is set so batches score correctly."""
    model = load_model(ref, kind="classifier", **kwargs)
    tokenizer = load_tokenizer(ref)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    model.eval()
    return model, tokenizer
