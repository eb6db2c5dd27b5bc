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
``evalkit.text``: sacrebleu's 13a word tokens for English, its zh tokens for Chinese.

Both are corpus metrics, so ``evalkit compare`` recomputes them on every bootstrap resample
from the n-gram counts extracted once (:func:`distinct_statistic`,
:func:`self_bleu_statistic`). A resample draws examples with replacement; an example drawn
k times is one generation weighted k times, never its own "other generation" (a copy of a
text is not a second model output), so:

* Distinct-n of a resample = n-grams present in any drawn generation / n-gram occurrences
  counted with multiplicity;
* Self-BLEU of a resample = the weighted mean, over drawn generations, of each one's BLEU
  against the *other drawn* generations (clip counts and closest length over those only).

With every example drawn once both equal the metric's own value.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

import polars as pl

from ..bootstrap import CORPUS, Statistic, resamples
from ..store import METRIC_PREFIX
from ..text import TOKENIZER_NAME, TokenIds, encode
from ._common import corpus_lang, signature, version
from .base import MetricInputs, MetricRefused, MetricResult, register_metric

#: Resamples processed per block (bounds memory: block x n-gram occurrences).
_BLOCK = 64

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
        raise MetricRefused("distinct: n must be >= 1")
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
        extra={**scores, "options": {"n": n, "lang": code}},
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
        raise MetricRefused("self_bleu: max_n must be >= 1")
    if n_texts < 2:
        raise MetricRefused("self_bleu needs at least 2 generations")
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
        extra={"options": {"max_n": max_n, "lang": code}},
        higher_is_better=False,
    )


# --- exact bootstrap statistics -------------------------------------------------------------


def _blocks(weights: np.ndarray) -> Iterator[np.ndarray]:
    for start in range(0, len(weights), _BLOCK):
        yield weights[start:start + _BLOCK]


def _options(info: dict, frame: pl.DataFrame, keys: tuple[str, ...]) -> dict | None:
    options = info.get("options")
    if not isinstance(options, dict) or not all(k in options for k in keys):
        return None  # a run from before the options were stored: no exact statistic
    return options


@resamples(distinct)
def distinct_statistic(frame: pl.DataFrame, info: dict, references: list[list[str]]) -> Statistic | None:
    """Distinct-n per resample: an n-gram counts once if any drawn generation holds it;
    occurrences count with the draw multiplicity."""
    options = _options(info, frame, ("n", "lang"))
    if options is None:
        return None
    tokens = encode(frame["prediction"].fill_null("").to_list(), options["lang"])
    n_texts = len(tokens.lengths)
    for order, (doc, ids, n_distinct) in enumerate(ngram_orders(tokens, options["n"]), start=1):
        if order == options["n"]:
            pair_doc, pair_id, _ = _per_text_counts(doc, ids, n_distinct)
    occurrences = np.bincount(doc, minlength=n_texts).astype(float)
    by_gram = np.lexsort((pair_doc, pair_id))
    gram_doc, gram_id = pair_doc[by_gram], pair_id[by_gram]
    starts = np.flatnonzero(np.diff(gram_id, prepend=-1))

    def fn(weights: np.ndarray) -> np.ndarray:
        out = []
        for w in _blocks(weights):
            if not len(gram_doc):
                out.append(np.zeros(len(w)))
                continue
            present = np.maximum.reduceat((w > 0)[:, gram_doc], starts, axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                total = w @ occurrences
                out.append(np.where(total > 0, present.sum(axis=1) / np.where(total > 0, total, 1), 0.0))
        return np.concatenate(out)

    return Statistic(CORPUS, fn, np.ones(n_texts, dtype=bool))


def _ranked_counts(drawn: np.ndarray, counts: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per resample row and n-gram: the largest and second-largest count among the drawn
    holders. Holders are sorted by n-gram, count descending; ``drawn`` is (rows, holders)."""
    cum = np.cumsum(drawn, axis=1)
    seg = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, drawn.shape[1])))
    before = np.where(starts > 0, cum[:, np.maximum(starts - 1, 0)], 0)[:, seg]
    rank = (cum - before) * drawn  # 1 for the first drawn holder of each n-gram, 2 for the next...
    top1 = np.add.reduceat(np.where(rank == 1, counts, 0), starts, axis=1)
    top2 = np.add.reduceat(np.where(rank == 2, counts, 0), starts, axis=1)
    return top1, top2


def _closest_drawn_length(present: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """nltk's closest_ref_length of every text against the other *drawn* texts, per row
    of ``present`` (rows, texts); -1 where no other text is drawn."""
    values, where = np.unique(lengths, return_inverse=True)
    onehot = np.zeros((len(lengths), len(values)))
    onehot[np.arange(len(lengths)), where] = 1.0
    holders = present.astype(float) @ onehot  # drawn texts per length value
    idx = np.arange(len(values))
    seen = holders > 0
    last = np.maximum.accumulate(np.where(seen, idx, -1), axis=1)  # last present value <= v
    first = np.minimum.accumulate(np.where(seen, idx, len(values))[:, ::-1], axis=1)[:, ::-1]  # >= v
    lower = np.concatenate([np.full((len(present), 1), -1), last[:, :-1]], axis=1)[:, where]
    upper = np.concatenate([first[:, 1:], np.full((len(present), 1), len(values))], axis=1)[:, where]
    lower_len = np.where(lower >= 0, values[np.maximum(lower, 0)], -1)
    upper_len = np.where(upper < len(values), values[np.minimum(upper, len(values) - 1)], -1)
    use_lower = (lower_len >= 0) & ((upper_len < 0) | (lengths - lower_len <= upper_len - lengths))
    closest = np.where(use_lower, lower_len, upper_len)
    return np.where(holders[:, where] >= 2, lengths, closest)


@resamples(self_bleu)
def self_bleu_statistic(frame: pl.DataFrame, info: dict, references: list[list[str]]) -> Statistic | None:
    """Self-BLEU per resample: each drawn generation's BLEU against the other drawn
    generations, averaged with the draw multiplicities (see the module docstring)."""
    options = _options(info, frame, ("max_n", "lang"))
    column = METRIC_PREFIX + "self_bleu"
    if options is None or column not in frame.columns:
        return None
    scored = frame[column].cast(pl.Float64).fill_nan(None).is_not_null().to_numpy()
    chosen = np.flatnonzero(scored)  # all generations, or the sampled subset
    texts = frame["prediction"].fill_null("").to_list()
    tokens = encode([texts[i] for i in chosen], options["lang"])
    max_n, lengths = options["max_n"], tokens.lengths
    orders = []
    for n, (doc, ids, n_distinct) in enumerate(ngram_orders(tokens, max_n), start=1):
        pair_doc, pair_id, counts = _per_text_counts(doc, ids, n_distinct)
        by_gram = np.lexsort((-counts, pair_id))
        holder, counts = pair_doc[by_gram], counts[by_gram]
        starts = np.flatnonzero(np.diff(pair_id[by_gram], prepend=-1))
        seg = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(holder))))
        by_text = np.argsort(holder, kind="stable")  # to sum clipped counts per text
        texts_with = np.unique(holder)
        text_starts = np.searchsorted(holder[by_text], texts_with)
        orders.append((n, holder, counts, starts, seg, by_text, texts_with, text_starts))

    def block(w: np.ndarray) -> np.ndarray:
        present = w > 0
        log_precision = np.zeros(w.shape)
        first_matches = np.zeros(w.shape)
        for n, holder, counts, starts, seg, by_text, texts_with, text_starts in orders:
            matches = np.zeros(w.shape)
            if len(holder):
                drawn = present[:, holder]
                top1, top2 = _ranked_counts(drawn, counts, starts)
                t1, t2 = top1[:, seg], top2[:, seg]
                best_other = np.where(counts == t1, t2, t1)
                clipped = np.minimum(counts, best_other) * drawn
                matches[:, texts_with] = np.add.reduceat(clipped[:, by_text], text_starts, axis=1)
            total = np.maximum(1, lengths - n + 1)
            log_precision += np.log(np.where(matches == 0, EPSILON, matches) / total) / max_n
            if n == 1:
                first_matches = matches
        ref_len = _closest_drawn_length(present, lengths)
        with np.errstate(divide="ignore", invalid="ignore"):
            brevity = np.where(lengths > ref_len, 1.0, np.exp(1 - ref_len / lengths))
            scores = np.where(first_matches == 0, 0.0, brevity * np.exp(log_precision))
            scores = np.where(ref_len < 0, np.nan, scores)  # no other generation drawn
            return np.where(present.sum(axis=1) >= 2,
                            (np.where(present, scores, 0.0) * w).sum(axis=1) / w.sum(axis=1), np.nan)

    def fn(weights: np.ndarray) -> np.ndarray:
        return np.concatenate([block(w[:, chosen]) for w in _blocks(weights)])

    return Statistic(CORPUS, fn, scored)
