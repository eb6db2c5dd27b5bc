"""BLEU through sacrebleu, with its tokenizer picked by the corpus language.

sacrebleu's default ``13a`` tokenizer leaves a Chinese sentence as one or two "words", so
BLEU on Chinese is near zero whatever the output; ``zh`` splits CJK characters. The language
is detected once per corpus (``evalkit.text.detect_lang`` over the references, so every run
on one eval set uses the same tokenizer)
unless ``lang`` or ``tokenize`` is given. The stored signature is sacrebleu's own, so a
score can be reproduced with the sacrebleu CLI.

Per-example values are sacrebleu sentence BLEU with ``effective_order=True`` (sacrebleu's
advice for single sentences: n-gram orders longer than the sentence are left out instead of
zeroing the score); its signature is in ``extra["sentence_signature"]``.
"""

from __future__ import annotations

from sacrebleu.metrics import BLEU

from ..text import TOKENIZER_NAME
from ._common import corpus_lang, scatter, with_references
from .base import MetricInputs, MetricResult, register_metric


@register_metric("bleu")
def bleu(
    inputs: MetricInputs,
    *,
    tokenize: str = "auto",
    lang: str = "auto",
    lowercase: bool = False,
    smooth_method: str = "exp",
) -> MetricResult:
    """Corpus BLEU (0-100) of predictions against one reference each.

    ``tokenize``: any sacrebleu tokenizer name, or ``auto`` = ``zh`` for Chinese corpora and
    ``13a`` otherwise; ``lang`` (``auto``/``en``/``zh``) overrides only the detection. Rows
    without a reference are left out (None per example).
    """
    rows, hyps, refs = with_references(inputs, "bleu")
    if not rows:
        raise ValueError("bleu: no row has a reference")
    if tokenize == "auto":
        tokenize = TOKENIZER_NAME[corpus_lang(lang, inputs)]
    options = dict(tokenize=tokenize, lowercase=lowercase, smooth_method=smooth_method)
    corpus = BLEU(**options)
    sentence = BLEU(**options, effective_order=True)
    result = corpus.corpus_score(hyps, [refs])
    per_example = [sentence.sentence_score(h, [r]).score for h, r in zip(hyps, refs)]
    return MetricResult(
        name="bleu",
        score=result.score,
        signature=corpus.get_signature().format(),
        per_example=scatter(len(inputs.predictions), rows, per_example),
        extra={
            "precisions": result.precisions,
            "bp": result.bp,
            "sys_len": result.sys_len,
            "ref_len": result.ref_len,
            "sentence_signature": sentence.get_signature().format(),
        },
    )
