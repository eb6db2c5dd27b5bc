"""``merge``: fold a LoRA adapter into its base and save a standalone model.

The adapter's chain is followed down (an adapter trained on an adapter, e.g. DPO on
SFT) and every level is merged, so the result is one full model that plain
``transformers`` (``AutoModelForCausalLM`` or, for an ``rm`` output,
``AutoModelForSequenceClassification``) and vLLM load, with the tokenizer and the chat
template the adapter trained with. Its logits equal the adapter model's.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from dataforge.errors import UserError
from dataforge.fileio import make_temp_dir
from dataforge.outputs import claim_folder

from . import outputs
from .loading import adapter_base, adapter_task, load_model, load_tokenizer, model_folder


def merge_adapter(adapter: str | Path, output_dir: str | Path) -> Path:
    """Merge ``adapter`` (a stage output folder or an adapter folder); the standalone model
    is written to ``output_dir`` itself (new, empty or posttrain's: docs/safety.md), its
    files moved in by name once all are written."""
    folder = model_folder(adapter)
    if adapter_base(folder) is None:
        raise UserError(f"{adapter} holds no LoRA adapter (no adapter_config.json); there is nothing to merge")
    out = Path(output_dir)
    outputs.check_output(out, [Path(folder), Path(adapter)])
    kind = "classifier" if adapter_task(folder) == "SEQ_CLS" else "causal"
    model = load_model(folder, kind=kind)
    tokenizer = load_tokenizer(folder)
    if kind == "classifier" and model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    staged = make_temp_dir(out)
    try:
        model.save_pretrained(str(staged), safe_serialization=True)
        tokenizer.save_pretrained(str(staged))
        claim_folder(out, "dataforge train merge")
        for item in staged.iterdir():  # complete: move in by name, nothing else in OUT is touched
            os.replace(item, out / item.name)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return out
