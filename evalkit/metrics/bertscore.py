"""BERTScore through bert-score, with any local encoder and layer.

``bert_score.score`` reloads the encoder on every call and starts a 4-process pool for IDF;
an eval run scores several columns and runs, so the encoder is loaded once per (model,
layers) and IDF is computed in-process. The scoring itself is bert-score's
(``bert_cos_score_idf``, ``get_idf_dict``, its baseline file format), and the tests compare
against ``bert_score.score`` with the same arguments.

Default: the embedded all-MiniLM-L6-v2 (``dataforge.models.minilm_path()``) with all 6 layers,
which works offline. There is no published rescale baseline for it, so scores are raw cosine
F1 (about 0.5-1.0); rescaling happens only when a baseline file is given (bert-score's TSV:
one row per layer, columns P, R, F).

MiniLM is an English model: its vocabulary has only some CJK characters and it was never
trained on Chinese, so its BERTScore of a Chinese answer says little. No package on PyPI
ships a Chinese or multilingual encoder that bert-score can load offline (docs/metrics.md
lists what was checked), so for Chinese references (detected from the references, as BLEU's
tokenizer is) the metric refuses unless ``model`` is named: a Chinese or multilingual
encoder path (bert-base-chinese, xlm-roberta...), or MiniLM itself to accept its limits.

Several references per example: bert-score's rule, each of P, R and F is the maximum over
the example's references.
"""

from __future__ import annotations

import functools
import os
from collections import defaultdict
from typing import Any

import numpy as np

from dataforge import models

from dataforge import progress
from ._common import corpus_lang, scatter, signature, version, with_references
from .base import MetricInputs, MetricRefused, MetricResult, register_metric

#: Candidate-reference pairs per progress step (bert-score batches within each step).
_STEP = 256


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
    lang: str = "auto",
) -> MetricResult:
    """Mean BERTScore F1; per example F1, ``extra`` has mean precision and recall.

    ``model``: alias or local path (default ``all-minilm-l6-v2``); ``num_layers``: how many
    layers to keep (default: bert-score's tuned layer for the hub names it knows, else all
    layers of the model: 6 for MiniLM). Rows without a reference are left out (None per
    example). ``lang`` (``auto``: from the references) only decides whether the English
    default may be used.
    """
    import torch
    from bert_score.utils import bert_cos_score_idf, get_idf_dict

    rows, cands, ref_lists = with_references(inputs, "bertscore")
    if model is None and corpus_lang(lang, inputs) == "zh":
        raise MetricRefused(
            f"bertscore: the references are Chinese and the default encoder {models.DEFAULT_ENCODER} is "
            "English-only; name a Chinese or multilingual encoder (bertscore.model=PATH), or "
            f"bertscore.model={models.DEFAULT_ENCODER} to use it anyway")
    # not inputs.model: that is the evaluated (causal) model, never the encoder
    label = model or models.DEFAULT_ENCODER
    path = models.resolve(label)
    if num_layers is None:
        num_layers = _default_layers(path)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    tokenizer, encoder = _encoder(path, num_layers, device)
    # bert-score's multi-reference layout: one pair per (candidate, reference)
    flat_cands = [c for c, refs in zip(cands, ref_lists) for _ in refs]
    flat_refs = [r for refs in ref_lists for r in refs]
    if idf:
        weights = get_idf_dict(flat_refs, tokenizer, nthreads=0)
    else:  # bert-score's uniform weights: 1 for every token, 0 for [CLS] and [SEP]
        weights = defaultdict(lambda: 1.0)
        weights[tokenizer.sep_token_id] = 0
        weights[tokenizer.cls_token_id] = 0
    parts = []
    with progress.task("bertscore", total=len(flat_refs), unit="pairs") as advance:
        for start in range(0, len(flat_refs), _STEP):
            stop = start + _STEP
            parts.append(bert_cos_score_idf(encoder, flat_refs[start:stop], flat_cands[start:stop], tokenizer,
                                            weights, device=device, batch_size=batch_size).cpu())
            advance(len(flat_refs[start:stop]))
    pairs = torch.cat(parts)
    bounds = np.cumsum([0] + [len(refs) for refs in ref_lists])
    scores = torch.stack([pairs[a:b].max(dim=0)[0] for a, b in zip(bounds[:-1], bounds[1:])])
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
