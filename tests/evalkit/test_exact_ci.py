"""Every corpus metric's bootstrap recomputes the metric itself on each resample.

The statistics ``evalkit compare`` uses (counts extracted once, reused per resample) are
checked against the plain definition computed from scratch on explicit resamples: sacrebleu
corpus BLEU (several references), Python sets for Distinct-n, the nltk ``sentence_bleu``
loop for Self-BLEU (against the other *drawn* generations), and exp(sum NLL / tokens) for
PPL. Then whole comparisons: no "mean-proxy" is left, and a lower-is-better metric's
regression listing shows the actual change.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
from sacrebleu.metrics import BLEU

from evalkit import text
from evalkit.bootstrap import CORPUS, MEAN, resample_weights, statistic_for
from evalkit.compare import compare
from evalkit.metrics import MetricInputs, get_metric
from evalkit.run import evaluate
from evalkit.store import load_run

WORDS = "the a cat dog sat on mat ran fast slow big red 猫 狗 跑 温度 30℃ ≥ 5kg".split()


def _texts(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=rng.integers(0, 10))) for _ in range(n)]


def _frame(result, texts: list[str], **columns) -> pl.DataFrame:
    return pl.DataFrame({"prediction": texts, f"metric:{result.name}": result.per_example, **columns},
                        strict=False)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_self_bleu_resamples_equal_the_nltk_loop_over_drawn_generations(lang):
    texts = _texts(30, seed=1)
    result = get_metric("self_bleu")(MetricInputs(predictions=texts), lang=lang)
    stat = statistic_for("self_bleu", result.to_dict(), _frame(result, texts), np.array(result.per_example))
    assert stat.method == CORPUS and stat.full() == pytest.approx(result.score, abs=1e-12)
    weights = resample_weights(len(texts), 25, seed=4)
    tokens, smooth = text.tokenize(texts, lang), SmoothingFunction().method1
    expected = []
    for w in weights:
        drawn = np.flatnonzero(w > 0)
        scores = [sentence_bleu([tokens[j] for j in drawn if j != i], tokens[i], smoothing_function=smooth)
                  for i in drawn]
        expected.append(np.dot(scores, w[drawn]) / w[drawn].sum())
    assert np.allclose(stat(weights), expected, atol=1e-12)


def test_self_bleu_sample_mode_resamples_only_the_sampled_generations():
    texts = _texts(40, seed=2)
    result = get_metric("self_bleu")(MetricInputs(predictions=texts), lang="en", sample=15, seed=3)
    stat = statistic_for("self_bleu", result.to_dict(), _frame(result, texts), np.array(result.per_example, float))
    assert stat.full() == pytest.approx(result.score, abs=1e-12) and stat.mask.sum() == 15


def test_distinct_resamples_equal_python_sets():
    texts = _texts(40, seed=5)
    result = get_metric("distinct")(MetricInputs(predictions=texts), n=2, lang="zh")
    stat = statistic_for("distinct", result.to_dict(), _frame(result, texts), np.array(result.per_example))
    assert stat.method == CORPUS and stat.full() == pytest.approx(result.score, abs=1e-15)
    weights = resample_weights(len(texts), 40, seed=6)
    tokens = text.tokenize(texts, "zh")
    expected = []
    for w in weights:
        grams = [(g, w[i]) for i in np.flatnonzero(w > 0) for g in zip(tokens[i], tokens[i][1:])]
        expected.append(len({g for g, _ in grams}) / sum(c for _, c in grams))
    assert np.allclose(stat(weights), expected, atol=1e-15)


def test_multi_reference_bleu_resamples_equal_sacrebleu():
    hyps = _texts(25, seed=7)
    refs = [[r] + ([s] if i % 3 else []) for i, (r, s) in enumerate(zip(_texts(25, 8), _texts(25, 9)))]
    refs[4] = []  # an example without a reference: left out, as the metric leaves it out
    options = {"smooth_method": "floor", "smooth_value": 0.2, "max_ngram_order": 3}
    result = get_metric("bleu")(MetricInputs(predictions=hyps, references=refs), lang="en", **options)
    frame = _frame(result, hyps, reference=[r[0] if r else None for r in refs], references=refs)
    stat = statistic_for("bleu", result.to_dict(), frame, np.array(result.per_example, float))
    assert stat.method == CORPUS and stat.full() == pytest.approx(result.score, abs=1e-9)
    weights = resample_weights(len(hyps), 20, seed=10)
    bleu = BLEU(tokenize="13a", **options)
    expected = []
    for idx in np.random.default_rng(10).integers(0, len(hyps), size=(20, len(hyps))):
        kept = [i for i in idx if refs[i]]
        streams = [[refs[i][k] if k < len(refs[i]) else None for i in kept] for k in range(2)]
        expected.append(bleu.corpus_score([hyps[i] for i in kept], streams).score)
    assert np.allclose(stat(weights), expected, atol=1e-9)


@pytest.mark.slow
def test_ppl_resamples_equal_token_weighted_perplexity(smollm_path):
    answers = ["It is 4.", "北京是中国的首都。", "Water boils at 100 degrees.", "猫在垫子上。", "Yes."]
    result = get_metric("ppl")(MetricInputs(predictions=answers, references=answers), target="whole")
    nll, tokens = np.array(result.extra["nll"]), np.array(result.extra["tokens"], float)
    assert np.exp(nll.sum() / tokens.sum()) == pytest.approx(result.score, rel=1e-12)
    frame = pl.DataFrame({"prediction": answers, "detail:ppl.nll": nll, "detail:ppl.tokens": tokens})
    stat = statistic_for("ppl", result.to_dict(), frame, np.array(result.per_example))
    assert stat.method == CORPUS and stat.full() == pytest.approx(result.score, rel=1e-12)
    idx = np.random.default_rng(0).integers(0, 5, size=(30, 5))
    expected = [np.exp(nll[i].sum() / tokens[i].sum()) for i in idx]
    assert np.allclose(stat(resample_weights(5, 30, seed=0)), expected, rtol=1e-12)


def _prediction_runs(root: Path) -> tuple[Path, Path]:
    rng = random.Random(0)
    answers = ["北京是中国的首都。", "水在一百度沸腾。", "温度30℃时请多喝水。", "The cat sat on the mat.", "It is 4."]
    rows = [{"id": f"q{i}", "prompt": f"问题 {i}", "reference": rng.choice(answers)} for i in range(40)]
    paths = []
    for name in ("base", "cand"):
        for row in rows:
            row["prediction"] = row["reference"] if rng.random() < 0.4 else rng.choice(answers)
        path = root / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        evaluate(predictions=path, metrics="bleu,distinct,self_bleu,exact_match", output=root / name)
        paths.append(root / name)
    return paths[0], paths[1]


def test_compare_has_no_proxy_and_shows_the_actual_change(tmp_path):
    base, cand = _prediction_runs(tmp_path)
    comparison = compare([load_run(base), load_run(cand)], n_boot=200, top_k=40)
    methods = dict(zip(comparison.table["metric"], comparison.table["method"]))
    assert methods == {"bleu": CORPUS, "distinct": CORPUS, "self_bleu": CORPUS, "exact_match": MEAN}
    assert comparison.table["score_low"].is_not_null().all()
    # self_bleu is lower-is-better: its regressions are examples whose value went *up*
    worse = comparison.regressions.filter(pl.col("metric") == "self_bleu")
    assert worse.height and (worse["change"] > 0).all()
    assert (worse["change"] - (worse["value"] - worse["baseline_value"])).abs().max() < 1e-12
    assert worse["change"].to_list() == sorted(worse["change"].to_list(), reverse=True)
    bleu_worse = comparison.regressions.filter(pl.col("metric") == "bleu")
    assert (bleu_worse["change"] < 0).all()
