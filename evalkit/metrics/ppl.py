"""Perplexity of a causal LM on reference texts: assistant answers or whole texts.

* ``target="assistant"``: the reference answer is scored as the assistant turn after the
  prompt, both rendered with the model's chat template (with the record's tools, if any). The
  scored tokens are the rendered answer up to and including the end-of-turn marker (e.g.
  ``It is 4.<|im_end|>``), as SFT losses score them; whitespace the template adds after
  the marker is not scored. Prompt and answer are tokenized separately, as TRL does.
* ``target="whole"``: the text alone, tokenized as the tokenizer does by default; every
  token after the first is scored (the first has no context).

Texts longer than ``max_length`` are scored with the sliding window of the Hugging Face
perplexity guide: windows of ``max_length`` tokens every ``stride`` tokens, each token scored
once, in the first window where it is new, with the rest of that window as context. All
windows of all texts are batched together (sorted by length, right-padded, at most
``batch_tokens`` tokens per batch). Only the scored positions go through the softmax. With
``stride == max_length`` (disjoint chunks) each chunk's first token has no context and is
not scored, as in the guide.

The corpus value is token-weighted, ``exp(sum NLL / scored tokens)``; per-example values
are each text's own perplexity (None when nothing was scored, e.g. a record without a
reference). Lower is better. Each example's summed NLL and token count are kept
(``extra["nll"]``, ``extra["tokens"]``; ``detail:ppl.*`` columns in a run), so ``evalkit
compare`` recomputes the corpus value exactly on every bootstrap resample.
"""

from __future__ import annotations

import functools
import json
import math
from typing import Any, Iterator, Sequence

import numpy as np
import polars as pl

from dataforge import models
from dataforge.chat_template import to_hf_conversation

from dataforge import progress
from ..bootstrap import CORPUS, Statistic, resamples
from ..store import DETAIL_PREFIX
from ._common import signature, version
from .base import MetricInputs, MetricRefused, MetricResult, register_metric

TARGETS = ("assistant", "whole")


@functools.lru_cache(maxsize=2)
def load_causal_lm(path: str, device: str) -> tuple[Any, Any]:
    """Tokenizer and model, loaded once per (path, device) in this process."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).to(device).eval()
    return tokenizer, model


def _prompt_messages(inputs: MetricInputs, i: int) -> list[dict[str, Any]]:
    if inputs.messages is not None:
        # rendered as the generation engines render them (None fields dropped, tool-call
        # arguments parsed), so the scored prompt is the one the model answered
        return to_hf_conversation(inputs.messages[i])
    if inputs.prompts is not None:
        return [{"role": "user", "content": inputs.prompts[i]}]
    raise MetricRefused("ppl target='assistant' needs prompts or messages")


def assistant_tokens(
    tokenizer: Any, prompt: list[dict[str, Any]], answer: str, tools: list[Any] | None = None
) -> tuple[list[int], int]:
    """Token ids of prompt + answer and the index of the first answer token."""
    if not tokenizer.chat_template:
        raise MetricRefused("ppl target='assistant' needs a chat template; use target='whole'")
    prompt_text = tokenizer.apply_chat_template(
        prompt, tools=tools, tokenize=False, add_generation_prompt=True
    )
    full_text = tokenizer.apply_chat_template(
        prompt + [{"role": "assistant", "content": answer}], tools=tools, tokenize=False
    )
    if not full_text.startswith(prompt_text):
        raise MetricRefused("ppl: the chat template renders the prompt differently once answered")
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False).input_ids
    answer_text = full_text[len(prompt_text) :].rstrip()
    answer_ids = tokenizer(answer_text, add_special_tokens=False).input_ids
    return prompt_ids + answer_ids, len(prompt_ids)


def windows(n_tokens: int, max_length: int, stride: int) -> Iterator[tuple[int, int, int]]:
    """(begin, end, first new position) of each sliding window over ``n_tokens`` tokens."""
    previous_end = 0
    for begin in range(0, max(n_tokens, 1), stride):
        end = min(begin + max_length, n_tokens)
        yield begin, end, previous_end
        previous_end = end
        if end >= n_tokens:
            break


def token_nll(
    model: Any,
    sequences: Sequence[tuple[list[int], int]],
    *,
    max_length: int,
    stride: int,
    batch_tokens: int,
    pad_id: int,
) -> tuple[list[float], list[int]]:
    """Summed NLL and number of scored tokens per sequence (ids, first target index)."""
    items = []  # (sequence index, window ids, index of the first scored position in the window)
    for i, (ids, target_start) in enumerate(sequences):
        for begin, end, new_from in windows(len(ids), max_length, stride):
            first = max(new_from, target_start, begin + 1) - begin
            if first < end - begin:
                items.append((i, ids[begin:end], first))
    items.sort(key=lambda item: len(item[1]))
    nll = [0.0] * len(sequences)
    counts = [0] * len(sequences)
    with progress.task("ppl", total=len(items), unit="windows") as advance:
        _batches(model, items, nll, counts, batch_tokens, pad_id, advance)
    return nll, counts


def _batches(model: Any, items: list, nll: list[float], counts: list[int], batch_tokens: int,
             pad_id: int, advance: progress.Advance) -> None:
    """Score ``items`` (windows sorted by length) in batches of at most ``batch_tokens``
    tokens, adding each window's NLL and scored tokens to its sequence's totals."""
    import torch
    import torch.nn.functional as F

    device = next(model.parameters()).device
    start = 0
    while start < len(items):
        stop = start + 1
        while stop < len(items) and len(items[stop][1]) * (stop + 1 - start) <= batch_tokens:
            stop += 1
        batch = items[start:stop]
        width = len(batch[-1][1])
        input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        scored = torch.zeros((len(batch), width), dtype=torch.bool)
        for row, (_, ids, first) in enumerate(batch):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            attention[row, : len(ids)] = 1
            scored[row, first : len(ids)] = True
        input_ids, attention, scored = input_ids.to(device), attention.to(device), scored.to(device)
        with torch.inference_mode():
            logits = model(input_ids=input_ids, attention_mask=attention).logits
            # the token at position t is predicted by the logits at t - 1
            mask = scored[:, 1:]
            losses = F.cross_entropy(
                logits[:, :-1][mask].float(), input_ids[:, 1:][mask], reduction="none"
            )
        rows = mask.nonzero()[:, 0].cpu()
        nll_per_row = torch.zeros(len(batch), dtype=torch.float64).index_add_(
            0, rows, losses.double().cpu()
        )
        count_per_row = torch.bincount(rows, minlength=len(batch))
        for row, (i, _, _) in enumerate(batch):
            nll[i] += float(nll_per_row[row])
            counts[i] += int(count_per_row[row])
        advance(len(batch))
        start = stop


@register_metric("ppl")
def ppl(
    inputs: MetricInputs,
    *,
    model: str | None = None,
    target: str = "assistant",
    column: str = "references",
    max_length: int = 1024,
    stride: int = 512,
    batch_tokens: int = 2048,
    device: str | None = None,
) -> MetricResult:
    """Token-weighted perplexity of ``model`` (default: the embedded SmolLM2) on ``column``.

    ``column``: ``references`` (reference answers) or ``predictions``; ``target``:
    ``assistant`` or ``whole`` (see the module docstring); ``max_length``/``stride``: the
    sliding window (``stride <= max_length``).
    """
    import torch

    if target not in TARGETS:
        raise MetricRefused(f"ppl target must be one of {TARGETS}, not {target!r}")
    if not 0 < stride <= max_length:
        raise MetricRefused("ppl needs 0 < stride <= max_length")
    if column not in ("references", "predictions"):
        raise MetricRefused(f"ppl column must be references or predictions, not {column!r}")
    texts = getattr(inputs, column)
    if column == "references" and texts is not None:  # the record's own answer: the first reference
        texts = [r if r is None or isinstance(r, str) else (r[0] if r else None) for r in texts]
    if texts is None:
        raise MetricRefused(f"ppl: the {column} column is missing")
    label = model or inputs.model or models.DEFAULT_CAUSAL_LM
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    tokenizer, lm = load_causal_lm(models.resolve(label), device)

    def sequence(i: int, text: str | None) -> tuple[list[int], int]:
        if text is None:  # a record without a reference: nothing to score
            return [], 0
        if target == "whole":
            return tokenizer(text).input_ids, 0
        tools = inputs.tools[i] if inputs.tools is not None else None
        return assistant_tokens(
            tokenizer, _prompt_messages(inputs, i), text, json.loads(tools) if tools else None
        )

    sequences = [sequence(i, text) for i, text in enumerate(texts)]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    nll, counts = token_nll(
        lm,
        sequences,
        max_length=max_length,
        stride=stride,
        batch_tokens=batch_tokens,
        pad_id=pad_id,
    )
    total = sum(counts)
    return MetricResult(
        name="ppl",
        score=math.exp(sum(nll) / total) if total else float("nan"),
        signature=signature(
            model=label,
            target=target,
            window=max_length,
            stride=stride,
            transformers=version("transformers"),
            torch=version("torch"),
        ),
        per_example=[math.exp(s / c) if c else None for s, c in zip(nll, counts)],
        extra={"scored_tokens": total, "nll": nll, "tokens": counts},
        higher_is_better=False,
    )


@resamples(ppl)
def ppl_statistic(frame: pl.DataFrame, info: dict, references: list[list[str]]) -> Statistic | None:
    """Token-weighted PPL per resample: ``exp(W @ nll / W @ tokens)`` from the stored sums."""
    columns = (DETAIL_PREFIX + "ppl.nll", DETAIL_PREFIX + "ppl.tokens")
    if not all(c in frame.columns for c in columns):
        return None  # a run from before per-example sums were stored
    nll = frame[columns[0]].cast(pl.Float64).fill_null(0.0).to_numpy()
    tokens = frame[columns[1]].cast(pl.Float64).fill_null(0.0).to_numpy()

    def fn(weights: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            return np.exp((weights @ nll) / (weights @ tokens))

    return Statistic(CORPUS, fn, tokens > 0)
