"""BLEU through sacrebleu, with its tokenizer picked by the corpus language.

sacrebleu's default ``13a`` tokenizer leaves a Chinese sentence as one or two "words", so
BLEU on Chinese is near zero whatever the output; ``zh`` splits CJK characters. The language
is detected once per corpus (``evalkit.text.detect_lang`` over the references, so every run
on one eval set uses the same tokenizer) unless ``lang`` or ``tokenize`` is given.

Every sacrebleu option is a parameter (``tokenize``, ``lowercase``, ``smooth_method``,
``smooth_value``, ``max_ngram_order``) and every one shows in the signature: sacrebleu's own
signature (``nrefs``, ``case``, ``eff``, ``tok``, ``smooth`` with its value) plus
``ngram:N``, which sacrebleu leaves out. An example may have several references (a list):
that is sacrebleu's multi-reference corpus BLEU (``nrefs:var`` when the count varies).

Per-example values are sacrebleu sentence BLEU with ``effective_order=True`` (sacrebleu's
advice for single sentences: n-gram orders longer than the sentence are left out instead of
zeroing the score); its signature is in ``extra["sentence_signature"]``.

``evalkit compare`` resamples examples and recomputes corpus BLEU exactly: sacrebleu's
sentence statistics are extracted once, summed per resample (a matrix product) and turned
into BLEU by :func:`bleu_from_sums`, which reproduces sacrebleu's ``compute_bleu``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import polars as pl
from sacrebleu.metrics import BLEU

from ..bootstrap import CORPUS, Statistic, resamples
from ..text import TOKENIZER_NAME
from ._common import corpus_lang, scatter, with_references
from .base import MetricInputs, MetricRefused, MetricResult, register_metric

_MY_LOG_ZERO = -9999999999.0  # sacrebleu's log(0)


def _bleu(options: dict[str, Any], effective_order: bool = False) -> BLEU:
    return BLEU(tokenize=options["tokenize"], lowercase=options["lowercase"],
                smooth_method=options["smooth_method"], smooth_value=options["smooth_value"],
                max_ngram_order=options["max_ngram_order"], effective_order=effective_order)


def _signature(bleu: BLEU, options: dict[str, Any]) -> str:
    """sacrebleu's signature with the n-gram order added (sacrebleu omits it) and a smoothing
    value that sacrebleu would round to two decimals written in full."""
    sig = bleu.get_signature()
    value = options["smooth_value"]
    if value is not None and round(value, 2) != value:
        sig.info["smooth"] = f"{options['smooth_method']}[{value:g}]"
    version = sig.info.pop("version")
    sig.info["ngram"] = options["max_ngram_order"]
    sig.info["version"] = version
    return sig.format()


def reference_streams(refs: Sequence[Sequence[str]]) -> list[list[str | None]]:
    """Per-example reference lists -> sacrebleu's reference streams (None pads short rows)."""
    width = max((len(r) for r in refs), default=0)
    return [[r[k] if k < len(r) else None for r in refs] for k in range(width)]


@register_metric("bleu")
def bleu(
    inputs: MetricInputs,
    *,
    tokenize: str = "auto",
    lang: str = "auto",
    lowercase: bool = False,
    smooth_method: str = "exp",
    smooth_value: float | None = None,
    max_ngram_order: int = 4,
) -> MetricResult:
    """Corpus BLEU (0-100) of predictions against one or several references each.

    ``tokenize``: any sacrebleu tokenizer name, or ``auto`` = ``zh`` for Chinese corpora and
    ``13a`` otherwise; ``lang`` (``auto``/``en``/``zh``) overrides only the detection.
    ``smooth_method``: ``exp`` (default), ``floor``, ``add-k`` or ``none``; ``smooth_value``
    for floor/add-k (default sacrebleu's 0.1 / 1). Rows without a reference are left out
    (None per example).
    """
    if smooth_method not in BLEU.SMOOTH_DEFAULTS:
        raise MetricRefused(f"bleu: smooth_method must be one of {sorted(BLEU.SMOOTH_DEFAULTS)}, "
                            f"not {smooth_method!r}")
    if max_ngram_order < 1:
        raise MetricRefused("bleu: max_ngram_order must be >= 1")
    rows, hyps, refs = with_references(inputs, "bleu")
    if tokenize == "auto":
        tokenize = TOKENIZER_NAME[corpus_lang(lang, inputs)]
    options = dict(tokenize=tokenize, lowercase=lowercase, smooth_method=smooth_method,
                   smooth_value=smooth_value, max_ngram_order=max_ngram_order)
    try:
        corpus, sentence = _bleu(options), _bleu(options, effective_order=True)
    except (KeyError, AssertionError) as exc:  # sacrebleu's own refusal of a tokenizer name
        raise MetricRefused(f"bleu: bad option {exc}") from exc
    result = corpus.corpus_score(hyps, reference_streams(refs))
    per_example = [sentence.sentence_score(h, r).score for h, r in zip(hyps, refs)]
    return MetricResult(
        name="bleu",
        score=result.score,
        signature=_signature(corpus, options),
        per_example=scatter(len(inputs.predictions), rows, per_example),
        extra={
            "precisions": result.precisions,
            "bp": result.bp,
            "sys_len": result.sys_len,
            "ref_len": result.ref_len,
            "options": options,
            "sentence_signature": _signature(sentence, options),
        },
    )


def bleu_from_sums(sums: np.ndarray, max_order: int = 4, smooth: str = "exp",
                   smooth_value: float | None = None) -> np.ndarray:
    """sacrebleu's corpus BLEU (``BLEU.compute_bleu``, no effective order) per row of summed
    sentence statistics ``[sys_len, ref_len, correct_1..N, total_1..N]``."""
    if smooth_value is None:
        smooth_value = BLEU.SMOOTH_DEFAULTS[smooth] or 0.0
    sys_len, ref_len = sums[:, 0], sums[:, 1]
    correct = sums[:, 2:2 + max_order].astype(float)
    total = sums[:, 2 + max_order:2 + 2 * max_order].astype(float)
    none_correct = correct.sum(axis=1) == 0  # checked before add-k touches the counts
    if smooth == "add-k":  # sacrebleu adds k to orders >= 2
        correct[:, 1:] += smooth_value
        total[:, 1:] += smooth_value
    with np.errstate(invalid="ignore", divide="ignore"):
        bp = np.where(sys_len < ref_len,
                      np.where(sys_len > 0, np.exp(1.0 - ref_len / np.maximum(sys_len, 1e-300)), 0.0), 1.0)
        zero = correct == 0
        if smooth == "exp":
            smoothed = 100.0 / (2.0 ** np.cumsum(zero, axis=1) * total)
        elif smooth == "floor":
            smoothed = 100.0 * smooth_value / total
        else:
            smoothed = np.zeros_like(total)
        precision = np.where(zero, smoothed, 100.0 * correct / total)
        # sacrebleu stops at the first order without n-grams: later precisions stay 0
        precision = np.where(np.cumprod(total > 0, axis=1) > 0, precision, 0.0)
        logs = np.where(precision > 0, np.log(np.where(precision > 0, precision, 1.0)), _MY_LOG_ZERO)
        score = bp * np.exp(logs.mean(axis=1))
    return np.where(none_correct, 0.0, score)


def _options(info: dict[str, Any]) -> dict[str, Any] | None:
    """The options a stored BLEU score was computed with (older runs: from the signature)."""
    if isinstance(info.get("options"), dict):
        return info["options"]
    sig = dict(p.split(":", 1) for p in str(info.get("signature", "")).split("|") if ":" in p)
    if "tok" not in sig or sig.get("eff", "no") != "no":
        return None
    method = sig.get("smooth", "exp").split("[")[0]
    return dict(tokenize=sig["tok"], lowercase=sig.get("case") == "lc", smooth_method=method,
                smooth_value=None, max_ngram_order=int(sig.get("ngram", 4)))


@resamples(bleu)
def bleu_statistic(frame: pl.DataFrame, info: dict[str, Any], references: list[list[str]]) -> Statistic | None:
    """Exact corpus BLEU per resample: sentence statistics extracted once, summed per
    resample (``W @ stats``), BLEU recomputed from the sums."""
    options = _options(info)
    if options is None:
        return None
    mask = np.array([bool(r) for r in references])
    hyps = frame["prediction"].fill_null("").to_list()
    kept = np.flatnonzero(mask)
    stats = np.asarray(_bleu(options)._extract_corpus_statistics(
        [hyps[i] for i in kept], reference_streams([references[i] for i in kept])), dtype=float)
    full = np.zeros((mask.size, stats.shape[1]))
    full[kept] = stats
    order, smooth, value = options["max_ngram_order"], options["smooth_method"], options["smooth_value"]
    return Statistic(CORPUS, lambda w: bleu_from_sums(w @ full, order, smooth, value), mask)
