"""bertscore: equal to bert_score.score called directly with the same arguments (real MiniLM)."""

from __future__ import annotations

import bert_score
import pytest

from evalkit.metrics import MetricInputs, MetricRefused, get_metric

pytestmark = pytest.mark.slow  # every test loads the MiniLM encoder

CANDS = ["The cat sat on the mat.", "A dog runs in the park.", "Birds can fly.", "Quantum physics"]
REFS = ["A cat was sitting on the mat.", "The dog is running in a park.", "Most birds fly.", "I like pizza"]
INPUTS = MetricInputs(predictions=CANDS, references=REFS)
ZH_CANDS = ["猫坐在垫子上。", "北京是中国的首都。"]
ZH_REFS = ["猫在垫子上坐着。", "中国的首都是北京。"]


def direct(minilm_path, **kwargs):
    kwargs.setdefault("num_layers", 6)
    p, r, f = bert_score.score(CANDS, REFS, model_type=minilm_path, nthreads=0, **kwargs)
    return p.tolist(), r.tolist(), f.tolist()


def check_equal(result, expected):
    p, r, f = expected
    assert result.per_example == pytest.approx(f, abs=1e-6)
    assert result.score == pytest.approx(sum(f) / len(f), abs=1e-6)
    assert result.extra["precision"] == pytest.approx(sum(p) / len(p), abs=1e-6)
    assert result.extra["recall"] == pytest.approx(sum(r) / len(r), abs=1e-6)


def test_default_minilm_equals_bert_score(minilm_path):
    result = get_metric("bertscore")(INPUTS)
    check_equal(result, direct(minilm_path))
    assert result.signature.startswith("model:all-minilm-l6-v2|layers:6|idf:no|rescale:no|bert_score:")
    f1 = result.per_example
    assert f1[0] > f1[3] and f1[1] > f1[3]  # paraphrases beat an unrelated pair


def test_evaluated_model_is_not_the_encoder_and_missing_references(minilm_path):
    # MetricInputs.model names the evaluated causal LM (for PPL); BERTScore keeps MiniLM
    inputs = MetricInputs(predictions=CANDS + ["extra"], references=REFS + [None], model="smollm2")
    result = get_metric("bertscore")(inputs)
    assert result.per_example[-1] is None
    check_equal(
        type(result)(result.name, result.score, result.signature, result.per_example[:-1], result.extra),
        direct(minilm_path),
    )
    assert result.signature.startswith("model:all-minilm-l6-v2|")


def test_layers_and_idf_equal_bert_score(minilm_path):
    three = get_metric("bertscore")(INPUTS, model=minilm_path, num_layers=3)
    check_equal(three, direct(minilm_path, num_layers=3))
    assert "layers:3" in three.signature
    weighted = get_metric("bertscore")(INPUTS, idf=True)
    check_equal(weighted, direct(minilm_path, idf=True))
    assert "idf:yes" in weighted.signature


def test_rescale_only_with_a_baseline_file(minilm_path, tmp_path):
    # bert-score's baseline format: one row per layer (0..N), columns LAYER,P,R,F
    rows = ["LAYER,P,R,F"] + [f"{layer},0.{layer}1,0.{layer}2,0.{layer}3" for layer in range(7)]
    baseline = tmp_path / "minilm.tsv"
    baseline.write_text("\n".join(rows) + "\n")
    result = get_metric("bertscore")(INPUTS, baseline_path=str(baseline))
    check_equal(
        result,
        direct(minilm_path, rescale_with_baseline=True, baseline_path=str(baseline), lang="en"),
    )
    assert "rescale:minilm.tsv" in result.signature


def test_chinese_references_are_refused_with_the_english_default(minilm_path):
    """No PyPI package ships a Chinese/multilingual encoder bert-score can load offline
    (docs/metrics.md): the English default must not silently score Chinese."""
    chinese = MetricInputs(predictions=ZH_CANDS, references=ZH_REFS)
    with pytest.raises(MetricRefused, match="English-only"):
        get_metric("bertscore")(chinese)
    # naming an encoder (here MiniLM itself, knowingly) is the user's decision: equal to bert_score
    named = get_metric("bertscore")(chinese, model="all-minilm-l6-v2")
    _, _, f = bert_score.score(ZH_CANDS, ZH_REFS, model_type=minilm_path, num_layers=6, nthreads=0)
    assert named.per_example == pytest.approx(f.tolist(), abs=1e-6)
    assert named.signature.startswith("model:all-minilm-l6-v2|")
    assert get_metric("bertscore")(chinese, lang="en").score == pytest.approx(named.score)


def test_multiple_references_take_bert_scores_maximum(minilm_path):
    refs = [[REFS[0], "A cat on a mat."], [REFS[1]], [REFS[2], "Birds fly.", "Fish swim."], [REFS[3]]]
    result = get_metric("bertscore")(MetricInputs(predictions=CANDS, references=refs))
    p, r, f = bert_score.score(CANDS, refs, model_type=minilm_path, num_layers=6, nthreads=0)
    assert result.per_example == pytest.approx(f.tolist(), abs=1e-6)
    assert result.extra["precision"] == pytest.approx(float(p.mean()), abs=1e-6)
