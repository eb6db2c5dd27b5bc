"""BERTScore through bert-score, with any local encoder and layer.

``bert_score.score`` reloads the encoder on every call and starts a 4-process pool for IDF;
an eval run scores several columns and runs, so the encoder is loaded once per (model,
layers) and IDF is computed in-process. The scoring itself is bert-score's
(``bert_cos_score_idf``, ``get_idf_dict``, its baseline file format), and the tests compare
against ``bert_score.score`` with the same arguments.

Default: the embedded all-MiniLM-L6-v2 (``dataforge.models.minilm_path()``) with all 6 layers,
which works offline. There is no published rescale baseline for it, so scores are raw cosine
F1 (about 0.5-1.0); rescaling happens only when a baseline file is given (bert-score's TSV:
one row per layer, columns P, R, F). MiniLM is an English model whose vocabulary has only
some CJK characters; for Chinese pass a Chinese or multilingual encoder path.
"""

from __future__ import annotations

import functools
import os
from collections import defaultdict
from typing import Any

from dataforge import models

from ._common import scatter, signature, version, with_references
from .base import MetricInputs, MetricResult, register_metric


@functools.lru_cache(maxsize=2)
def _encoder(path: str, num_layers: int, device: str) -> tuple[Any, Any]:
    """bert-score's tokenizer and truncated encoder, loaded once per process."""
    from bert_score.utils import get_model, get_tokenizer

    model = get_model(path, num_layers)
    model.to(device)
    return get_tokenizer(path), model


def _default_layers(path: str) -> int:
    from bert_score.utils import model2layers
    from transformers import AutoConfig

    if path in model2layers:
        return model2layers[path]
    return AutoConfig.from_pretrained(path).num_hidden_layers


def _baseline(path: str, num_layers: int) -> Any:
    """The (P, R, F) baseline row for ``num_layers``, read as bert-score reads it."""
    import pandas as pd
    import torch

    return torch.tensor(pd.read_csv(path).iloc[num_layers].to_numpy()[1:], dtype=torch.float32)


@register_metric("bertscore")
def bertscore(
    inputs: MetricInputs,
    *,
    model: str | None = None,
    num_layers: int | None = None,
    idf: bool = False,
    baseline_path: str | None = None,
    batch_size: int = 64,
    device: str | None = None,
) -> MetricResult:
    """Mean BERTScore F1; per example F1, ``extra`` has mean precision and recall.

    ``model``: alias or local path (default ``all-minilm-l6-v2``); ``num_layers``: how many
    layers to keep (default: bert-score's tuned layer for the hub names it knows, else all
    layers of the model: 6 for MiniLM). Rows without a reference are left out (None per
    example).
    """
    import torch
    from bert_score.utils import bert_cos_score_idf, get_idf_dict

    rows, cands, refs = with_references(inputs, "bertscore")
    if not rows:
        raise ValueError("bertscore: no row has a reference")
    # not inputs.model: that is the evaluated (causal) model, never the encoder
    label = model or models.DEFAULT_ENCODER
    path = models.resolve(label)
    if num_layers is None:
        num_layers = _default_layers(path)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    tokenizer, encoder = _encoder(path, num_layers, device)
    if idf:
        weights = get_idf_dict(refs, tokenizer, nthreads=0)
    else:  # bert-score's uniform weights: 1 for every token, 0 for [CLS] and [SEP]
        weights = defaultdict(lambda: 1.0)
        weights[tokenizer.sep_token_id] = 0
        weights[tokenizer.cls_token_id] = 0
    scores = bert_cos_score_idf(
        encoder, refs, cands, tokenizer, weights, device=device, batch_size=batch_size
    ).cpu()
    if baseline_path is not None:
        base = _baseline(baseline_path, num_layers)
        scores = (scores - base) / (1 - base)
    precision, recall, f1 = scores[:, 0], scores[:, 1], scores[:, 2]
    return MetricResult(
        name="bertscore",
        score=float(f1.mean()),
        signature=signature(
            model=label,
            layers=num_layers,
            idf=idf,
            rescale=os.path.basename(baseline_path) if baseline_path else False,
            bert_score=version("bert-score"),
            transformers=version("transformers"),
        ),
        per_example=scatter(len(inputs.predictions), rows, f1.tolist()),
        extra={"precision": float(precision.mean()), "recall": float(recall.mean())},
    )
