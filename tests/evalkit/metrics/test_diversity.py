"""Distinct-n and Self-BLEU: our vectorized counts equal plain sets and nltk's sentence_bleu loop."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

from evalkit import text
from evalkit.metrics import MetricInputs, get_metric

ENGLISH = [
    "The cat sat on the mat.",
    "The cat sat on the mat.",  # duplicate: its "others" contain an exact copy
    "A dog ran across the park to fetch the ball.",
    "Dogs and cats are popular pets in many countries.",
    "Hi",  # shorter than every n-gram order above 1
    "",  # empty generation
    "zebra quantum xylophone",  # no unigram in common with any other
    "the the the the the the the",
    "The park was quiet , and the cat slept on a mat .",
    "Many countries have parks where dogs run.",
]
CHINESE = [
    "猫坐在垫子上。",
    "猫坐在垫子上。",
    "狗跑过公园去捡球。",
    "猫和狗是很多国家受欢迎的宠物。",
    "好",
    "量子木琴斑马",
    "公园里很安静，猫在垫子上睡觉。",
    "我用Python写代码。",
]


def nltk_self_bleu(tokens: list[list[str]], max_n: int = 4) -> list[float]:
    """Texygen's loop: BLEU of each generation against all the others, nltk method1."""
    weights = (1.0 / max_n,) * max_n
    smoothing = SmoothingFunction().method1
    return [
        sentence_bleu(tokens[:i] + tokens[i + 1 :], hyp, weights, smoothing_function=smoothing)
        for i, hyp in enumerate(tokens)
    ]


def set_distinct(tokens: list[list[str]], n: int) -> float:
    """The plain definition: distinct n-grams / n-gram occurrences over the corpus."""
    grams = [tuple(row[i : i + n]) for row in tokens for i in range(len(row) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


@pytest.mark.parametrize(("corpus", "lang"), [(ENGLISH, "en"), (CHINESE, "zh")])
@pytest.mark.parametrize("max_n", [1, 2, 3, 4])
def test_self_bleu_equals_nltk_loop(corpus, lang, max_n):
    result = get_metric("self_bleu")(MetricInputs(predictions=corpus), max_n=max_n)
    expected = nltk_self_bleu(text.tokenize(corpus, lang), max_n)
    assert result.per_example == pytest.approx(expected, abs=1e-9, rel=0)
    assert result.score == pytest.approx(float(np.mean(expected)), abs=1e-9, rel=0)
    assert f"tok:{text.TOKENIZER_NAME[lang]}" in result.signature


@settings(max_examples=120, deadline=None, derandomize=True)
@given(
    st.lists(
        st.lists(st.sampled_from(["a", "b", "c", "d", "猫", "狗"]), max_size=9).map(" ".join),
        min_size=2,
        max_size=9,
    )
)
def test_self_bleu_equals_nltk_on_random_small_vocabulary(corpus):
    # a tiny vocabulary forces repeated n-grams, ties for the top count, equal lengths
    result = get_metric("self_bleu")(MetricInputs(predictions=corpus), lang="en")
    expected = nltk_self_bleu(text.tokenize(corpus, "en"))
    assert result.per_example == pytest.approx(expected, abs=1e-9, rel=0)


def test_self_bleu_extremes_and_errors():
    same = get_metric("self_bleu")(MetricInputs(predictions=["one two three four five"] * 3))
    assert same.score == pytest.approx(1.0, abs=1e-12)
    disjoint = get_metric("self_bleu")(MetricInputs(predictions=["a b c d", "e f g h", "i j"]))
    assert disjoint.per_example == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="at least 2"):
        get_metric("self_bleu")(MetricInputs(predictions=["alone"]))


def test_self_bleu_sample_scores_a_subset_against_itself():
    corpus = ENGLISH + CHINESE
    result = get_metric("self_bleu")(MetricInputs(predictions=corpus), sample=6, seed=3, lang="en")
    chosen = [i for i, value in enumerate(result.per_example) if value is not None]
    assert len(chosen) == 6
    subset = [corpus[i] for i in chosen]
    expected = nltk_self_bleu(text.tokenize(subset, "en"))
    assert [result.per_example[i] for i in chosen] == pytest.approx(expected, abs=1e-9, rel=0)
    assert "sample:6(seed=3)" in result.signature


@pytest.mark.parametrize(("corpus", "lang"), [(ENGLISH, "en"), (CHINESE, "zh")])
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_distinct_equals_plain_sets(corpus, lang, n):
    tokens = text.tokenize(corpus, lang)
    result = get_metric("distinct")(MetricInputs(predictions=corpus), n=n)
    assert result.score == set_distinct(tokens, n)
    for order in range(1, max(4, n) + 1):
        assert result.extra[f"distinct_{order}"] == set_distinct(tokens, order)
    assert result.per_example == [set_distinct([row], n) for row in tokens]


def test_distinct_counts_chinese_characters():
    result = get_metric("distinct")(MetricInputs(predictions=["猫猫猫", "猫狗"]), n=1)
    assert result.score == 2 / 5  # 猫 and 狗 among five character tokens
    assert result.per_example == [1 / 3, 1.0]
    assert "tok:zh" in result.signature
    forced = get_metric("distinct")(MetricInputs(predictions=["猫猫猫", "猫狗"]), n=1, lang="en")
    assert forced.score == 1.0  # as 13a words: "猫猫猫" and "猫狗"


def test_distinct_empty_inputs():
    assert get_metric("distinct")(MetricInputs(predictions=[])).score == 0.0
    empty = get_metric("distinct")(MetricInputs(predictions=["", "a"]), n=2)
    assert empty.score == 0.0 and empty.per_example == [0.0, 0.0]
    with pytest.raises(ValueError):
        get_metric("distinct")(MetricInputs(predictions=["a"]), n=0)
    assert math.isclose(get_metric("distinct")(MetricInputs(predictions=["a b", "a"]), n=1).score, 2 / 3)
