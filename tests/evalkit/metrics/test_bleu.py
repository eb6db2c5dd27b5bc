"""bleu: equal to sacrebleu called directly, with the tokenizer picked by language."""

from __future__ import annotations

import pytest
from sacrebleu.metrics import BLEU

from evalkit.metrics import MetricInputs, MetricRefused, get_metric

EN_HYPS = ["The cat sat on the mat.", "A dog ran in the park!", "Hello", "Completely unrelated words"]
EN_REFS = ["The cat is sitting on the mat.", "A dog was running in the park.", "Hello there", "Nothing here"]
ZH_HYPS = ["猫坐在垫子上。", "今天天气很好，我们去公园吧。", "你好", "我用Python写代码"]
ZH_REFS = ["猫坐在了垫子上。", "今天天气不错，我们去公园。", "你好啊", "我用Python编写代码"]


def sacrebleu_direct(hyps, refs, tokenize, **options):
    corpus = BLEU(tokenize=tokenize, **options)
    sentence = BLEU(tokenize=tokenize, effective_order=True, **options)
    score = corpus.corpus_score(hyps, [refs]).score
    signature = corpus.get_signature().format()
    order = options.get("max_ngram_order", 4)
    return (
        score,
        [sentence.sentence_score(h, [r]).score for h, r in zip(hyps, refs)],
        signature.replace("|version:", f"|ngram:{order}|version:"),
    )


@pytest.mark.parametrize(
    ("hyps", "refs", "tokenize"), [(EN_HYPS, EN_REFS, "13a"), (ZH_HYPS, ZH_REFS, "zh")]
)
def test_bleu_equals_sacrebleu_with_auto_tokenizer(hyps, refs, tokenize):
    result = get_metric("bleu")(MetricInputs(predictions=hyps, references=refs))
    score, per_example, sig = sacrebleu_direct(hyps, refs, tokenize)
    assert result.score == score
    assert result.per_example == per_example
    assert result.signature == sig and f"tok:{tokenize}" in sig
    assert "eff:yes" in result.extra["sentence_signature"]


def test_chinese_needs_zh_tokenization_and_overrides_work():
    inputs = MetricInputs(predictions=ZH_HYPS, references=ZH_REFS)
    zh = get_metric("bleu")(inputs)
    as_english = get_metric("bleu")(inputs, lang="en")
    assert as_english.score == sacrebleu_direct(ZH_HYPS, ZH_REFS, "13a")[0]
    assert as_english.score < zh.score  # 13a sees each Chinese sentence as one "word"
    char = get_metric("bleu")(inputs, tokenize="char")
    assert char.score == sacrebleu_direct(ZH_HYPS, ZH_REFS, "char")[0]
    shouted = MetricInputs(predictions=["THE CAT SAT ON THE MAT"], references=["the cat sat on the mat"])
    lower = get_metric("bleu")(shouted, lowercase=True)
    assert lower.score == pytest.approx(100.0) and "case:lc" in lower.signature


def test_rows_without_reference_are_left_out():
    result = get_metric("bleu")(MetricInputs(predictions=EN_HYPS[:3], references=[EN_REFS[0], None, EN_REFS[2]]))
    score, per_example, _ = sacrebleu_direct([EN_HYPS[0], EN_HYPS[2]], [EN_REFS[0], EN_REFS[2]], "13a")
    assert result.score == score
    assert result.per_example == [per_example[0], None, per_example[1]]
    with pytest.raises(MetricRefused, match="no row has a reference"):
        get_metric("bleu")(MetricInputs(predictions=["a"], references=[None]))


def test_bleu_edge_cases():
    perfect = get_metric("bleu")(MetricInputs(predictions=EN_REFS, references=EN_REFS))
    assert perfect.score == pytest.approx(100.0)
    empty = get_metric("bleu")(MetricInputs(predictions=["", ""], references=["a b", "c d"]))
    assert empty.score == 0.0 and empty.per_example == [0.0, 0.0]
    with pytest.raises(ValueError, match="needs references"):
        get_metric("bleu")(MetricInputs(predictions=["a"]))
    with pytest.raises(ValueError, match="2 references"):
        get_metric("bleu")(MetricInputs(predictions=["a"], references=["a", "b"]))


def test_auto_language_comes_from_the_references_not_the_predictions():
    """Two runs on one eval set must get one tokenizer, whatever each model answered."""
    refs = ["北京是中国的首都。", "水在一百度沸腾。"]
    chinese = get_metric("bleu")(MetricInputs(predictions=["北京是首都。", "水一百度沸腾。"], references=refs))
    english = get_metric("bleu")(MetricInputs(predictions=["Beijing is the capital.", "Water boils."], references=refs))
    assert "tok:zh" in chinese.signature and "tok:zh" in english.signature
    for name in ("distinct", "self_bleu"):
        a = get_metric(name)(MetricInputs(predictions=["北京是首都", "水沸腾了"], references=refs))
        b = get_metric(name)(MetricInputs(predictions=["Beijing is it", "water boils"], references=refs))
        assert a.signature == b.signature


@pytest.mark.parametrize("options", [
    {"max_ngram_order": 2}, {"max_ngram_order": 6}, {"smooth_method": "floor", "smooth_value": 0.25},
    {"smooth_method": "add-k", "smooth_value": 2.0}, {"smooth_method": "none"}, {"lowercase": True},
])
def test_every_sacrebleu_option_equals_sacrebleu_and_is_in_the_signature(options):
    result = get_metric("bleu")(MetricInputs(predictions=EN_HYPS, references=EN_REFS), **options)
    score, per_example, sig = sacrebleu_direct(EN_HYPS, EN_REFS, "13a", **options)
    assert result.score == score and result.per_example == per_example
    assert result.signature == sig
    assert f"ngram:{options.get('max_ngram_order', 4)}" in result.signature
    if "smooth_value" in options:
        assert f"[{options['smooth_value']:.2f}]" in result.signature


def test_multi_reference_bleu_equals_sacrebleu():
    """Several references per example, a varying number of them (sacrebleu pads with None)."""
    refs = [[EN_REFS[0], "The cat sat on a mat."], [EN_REFS[1]], [EN_REFS[2], "Hello", "Hi there"], [EN_REFS[3]]]
    result = get_metric("bleu")(MetricInputs(predictions=EN_HYPS, references=refs))
    streams = [[r[k] if k < len(r) else None for r in refs] for k in range(3)]
    corpus = BLEU(tokenize="13a")
    assert result.score == corpus.corpus_score(EN_HYPS, streams).score
    assert "nrefs:var" in result.signature and result.score > get_metric("bleu")(
        MetricInputs(predictions=EN_HYPS, references=EN_REFS)).score
    sentence = BLEU(tokenize="13a", effective_order=True)
    assert result.per_example == [sentence.sentence_score(h, r).score for h, r in zip(EN_HYPS, refs)]
    two = get_metric("bleu")(MetricInputs(predictions=EN_HYPS[:2], references=[[r, r + "!"] for r in EN_REFS[:2]]))
    assert "nrefs:2" in two.signature


def test_bad_options_are_refused():
    inputs = MetricInputs(predictions=EN_HYPS, references=EN_REFS)
    with pytest.raises(MetricRefused, match="smooth_method"):
        get_metric("bleu")(inputs, smooth_method="laplace")
    with pytest.raises(MetricRefused, match="bad option"):
        get_metric("bleu")(inputs, tokenize="klingon")
