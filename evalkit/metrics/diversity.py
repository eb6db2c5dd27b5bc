"""Corpus diversity: Distinct-n and Self-BLEU, computed by counting every n-gram once.

Both metrics are usually written as Python loops over tuples; Self-BLEU's textbook loop
(Texygen: nltk ``sentence_bleu`` of each generation against all the others) is O(n²) and
takes minutes for a thousand generations. Here a corpus becomes integer arrays
(``evalkit.text.encode``) and every n-gram gets an exact integer id by folding the
(n-1)-gram id with the next token (``np.unique`` per order: no hashing, no collisions).
Then:

* Distinct-n = distinct n-gram ids / n-gram occurrences, over the whole corpus.
* Self-BLEU: nltk's modified precision clips each hypothesis n-gram count by its maximum
  count over the references, here "all other generations". With the top two counts of each
  n-gram over all generations, the maximum over the others is the top count unless this
  generation holds it, in which case it is the second (ties: the second equals the top).
  The brevity penalty uses the other generation length closest to the hypothesis length,
  the shorter one on a tie (nltk's ``closest_ref_length``).

Self-BLEU reproduces, to float rounding, ``nltk.translate.bleu_score.sentence_bleu(others,
hyp, weights=(1/N,)*N, smoothing_function=SmoothingFunction().method1)`` averaged over the
generations (Texygen's definition; method1 adds epsilon 0.1 to zero match counts; a
hypothesis with no unigram match scores 0, as in nltk). Tokens come from
``evalkit.text``: 13a word tokens for English, characters for CJK.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from ..text import TOKENIZER_NAME, TokenIds, encode
from ._common import corpus_lang, signature, version
from .base import MetricInputs, MetricResult, register_metric

#: nltk SmoothingFunction().epsilon, used by method1.
EPSILON = 0.1


def ngram_orders(tokens: TokenIds, max_n: int) -> Iterator[tuple[np.ndarray, np.ndarray, int]]:
    """For n = 1..max_n: (text index of each n-gram occurrence, its n-gram id, #distinct ids).

    Ids of order n are dense in ``[0, #distinct)``; equal n-grams have equal ids.
    """
    n_tokens = len(tokens.ids)
    doc = np.repeat(np.arange(len(tokens.lengths), dtype=np.int64), tokens.lengths)
    ends = (tokens.offsets + tokens.lengths)[doc]
    positions = np.arange(n_tokens, dtype=np.int64)
    ids, n_distinct = tokens.ids, tokens.vocab_size
    yield doc, ids, n_distinct
    for n in range(2, max_n + 1):
        keep = ends[positions] - positions >= n  # an n-gram starts here within its text
        positions = positions[keep]
        key = ids[keep] * tokens.vocab_size + tokens.ids[positions + n - 1]
        unique, ids = np.unique(key, return_inverse=True)
        n_distinct = len(unique)
        yield doc[positions], ids.astype(np.int64), n_distinct


def _per_text_counts(doc: np.ndarray, ids: np.ndarray, n_distinct: int) -> tuple[np.ndarray, ...]:
    """Distinct (text, n-gram) pairs: their text, n-gram id and count within the text."""
    pairs, counts = np.unique(doc * max(n_distinct, 1) + ids, return_counts=True)
    pair_doc, pair_id = np.divmod(pairs, max(n_distinct, 1))
    return pair_doc, pair_id, counts


@register_metric("distinct")
def distinct(inputs: MetricInputs, *, n: int = 2, lang: str = "auto") -> MetricResult:
    """Distinct-n over the corpus; ``extra`` has distinct-1..max(4, n).

    Per-example values are each generation's own distinct-n (within-text repetition); the
    corpus score is not their mean. Texts without an n-gram count as 0.
    """
    if n < 1:
        raise ValueError("distinct: n must be >= 1")
    texts = list(inputs.predictions)
    code = corpus_lang(lang, inputs)
    tokens = encode(texts, code)
    scores: dict[str, float] = {}
    per_example: list[float | None] = []
    for order, (doc, ids, n_distinct) in enumerate(ngram_orders(tokens, max(4, n)), start=1):
        scores[f"distinct_{order}"] = n_distinct / len(ids) if len(ids) else 0.0
        if order == n:
            pair_doc, _, _ = _per_text_counts(doc, ids, n_distinct)
            unique_per_text = np.bincount(pair_doc, minlength=len(texts))
            total_per_text = np.bincount(doc, minlength=len(texts))
            per_example = np.divide(
                unique_per_text, total_per_text, out=np.zeros(len(texts)), where=total_per_text > 0
            ).tolist()
    return MetricResult(
        name="distinct",
        score=scores[f"distinct_{n}"],
        signature=signature(n=n, tok=TOKENIZER_NAME[code], posttrain=version("posttrain")),
        per_example=per_example,
        extra=scores,
    )


def _top_two(ids: np.ndarray, counts: np.ndarray, n_distinct: int) -> tuple[np.ndarray, np.ndarray]:
    """Per n-gram id: the largest and second-largest count over texts (0 when absent)."""
    order = np.lexsort((-counts, ids))
    sorted_ids, sorted_counts = ids[order], counts[order]
    starts = np.flatnonzero(np.diff(sorted_ids, prepend=-1))  # first row of each id
    top1 = np.zeros(n_distinct, dtype=np.int64)
    top2 = np.zeros(n_distinct, dtype=np.int64)
    top1[sorted_ids[starts]] = sorted_counts[starts]
    second = starts + 1
    has_second = second < len(sorted_ids)
    has_second[has_second] = sorted_ids[second[has_second]] == sorted_ids[starts[has_second]]
    top2[sorted_ids[starts[has_second]]] = sorted_counts[second[has_second]]
    return top1, top2


def _closest_other_length(lengths: np.ndarray) -> np.ndarray:
    """nltk's closest_ref_length of each text against all other texts (ties: shorter)."""
    values, where, counts = np.unique(lengths, return_inverse=True, return_counts=True)
    shorter = np.where(where > 0, values[np.maximum(where - 1, 0)], -1)
    longer = np.where(where + 1 < len(values), values[np.minimum(where + 1, len(values) - 1)], -1)
    use_shorter = (shorter >= 0) & ((longer < 0) | (lengths - shorter <= longer - lengths))
    closest = np.where(use_shorter, shorter, longer)
    return np.where(counts[where] >= 2, lengths, closest)  # an equal-length other text


def self_bleu_scores(tokens: TokenIds, max_n: int = 4) -> np.ndarray:
    """BLEU-``max_n`` of every text against all the others (nltk sentence_bleu, method1)."""
    n_texts = len(tokens.lengths)
    if max_n < 1:
        raise ValueError("self_bleu: max_n must be >= 1")
    if n_texts < 2:
        raise ValueError("self_bleu needs at least 2 generations")
    lengths = tokens.lengths
    weight = 1.0 / max_n  # nltk: sum of w_i * log(p_i) with w_i = 1/N
    log_precision = np.zeros(n_texts)
    matches_by_order = []
    for n, (doc, ids, n_distinct) in enumerate(ngram_orders(tokens, max_n), start=1):
        pair_doc, pair_id, counts = _per_text_counts(doc, ids, n_distinct)
        top1, top2 = _top_two(pair_id, counts, n_distinct)
        best_other = np.where(counts == top1[pair_id], top2[pair_id], top1[pair_id])
        matches = np.bincount(pair_doc, weights=np.minimum(counts, best_other), minlength=n_texts)
        total = np.maximum(1, lengths - n + 1)
        precision = np.where(matches == 0, EPSILON, matches) / total
        log_precision += weight * np.log(precision)
        matches_by_order.append(matches)
    ref_len = _closest_other_length(lengths)
    with np.errstate(divide="ignore", invalid="ignore"):
        brevity = np.where(lengths > ref_len, 1.0, np.exp(1 - ref_len / lengths))
    # nltk returns 0 when no unigram matches (no smoothing applies then)
    return np.where(matches_by_order[0] == 0, 0.0, brevity * np.exp(log_precision))


@register_metric("self_bleu")
def self_bleu(
    inputs: MetricInputs,
    *,
    max_n: int = 4,
    lang: str = "auto",
    sample: int | None = None,
    seed: int = 0,
) -> MetricResult:
    """Mean BLEU of each generation against all others (lower = more diverse), 0-1 scale.

    ``sample`` scores only a random subset of that many generations against each other
    (Texygen's fast mode); the default scores all of them exactly. Unsampled generations
    get ``None`` per example.
    """
    texts = list(inputs.predictions)
    chosen = np.arange(len(texts))
    if sample is not None and sample < len(texts):
        chosen = np.sort(np.random.default_rng(seed).choice(len(texts), sample, replace=False))
    subset = [texts[i] for i in chosen]
    code = corpus_lang(lang, inputs)
    scores = self_bleu_scores(encode(subset, code), max_n)
    per_example: list[float | None] = [None] * len(texts)
    for i, value in zip(chosen, scores):
        per_example[i] = float(value)
    return MetricResult(
        name="self_bleu",
        score=float(scores.mean()),
        signature=signature(
            n=max_n,
            smooth=f"nltk-method1(eps={EPSILON})",
            tok=TOKENIZER_NAME[code],
            refs="all-others",
            sample=f"{sample}(seed={seed})" if len(chosen) < len(texts) else "all",
            posttrain=version("posttrain"),
        ),
        per_example=per_example,
        higher_is_better=False,
    )
