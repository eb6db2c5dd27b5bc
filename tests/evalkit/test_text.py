"""evalkit.text: our polars tokenization equals sacrebleu's 13a / zh tokenizers."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a
from sacrebleu.tokenizers.tokenizer_zh import TokenizerZh

from evalkit import text

ASCII = "abcXYZ019 .,-!?'\"()[]{}<>/&;:@#$%^*_+=~`\n\t"
CHINESE = "你好世界猫狗。，、！？；：「」（）《》“”—…３Ａ\u3000"
PIECES = ["&amp;", "&quot;", "&lt;", "<skipped>", "-\n", "3.5", "1,000", "-2", "don't"]

texts_strategy = st.lists(
    st.lists(st.sampled_from(list(ASCII) + list(CHINESE) + PIECES), max_size=30).map("".join),
    min_size=1,
    max_size=20,
)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(texts_strategy)
def test_en_tokens_equal_sacrebleu_13a(texts):
    reference = Tokenizer13a()
    assert text.tokenize(texts, "en") == [reference(t).split() for t in texts]


@settings(max_examples=150, deadline=None, derandomize=True)
@given(texts_strategy)
def test_zh_tokens_equal_sacrebleu_zh(texts):
    reference = TokenizerZh()
    assert text.tokenize(texts, "zh") == [reference(t).split() for t in texts]


def test_zh_splits_every_cjk_character_and_keeps_latin_words():
    tokens = text.tokenize(["我用Python写代码，很好！", "今天 3.5 度"], "zh")
    assert tokens == [
        ["我", "用", "Python", "写", "代", "码", "，", "很", "好", "！"],
        ["今", "天", "3.5", "度"],
    ]
    # kana too (sacrebleu's zh leaves kana runs whole): Japanese has no spaces either
    assert text.tokenize(["ひらがな"], "zh") == [["ひ", "ら", "が", "な"]]


def test_language_detection_by_cjk_ratio():
    assert text.detect_lang(["The cat sat on the mat.", "A dog."]) == "en"
    assert text.detect_lang(["猫坐在垫子上。", "狗跑得很快"]) == "zh"
    mixed = ["使用 pip install torch 安装。", "pip install -U torch"]  # 4 Han of 11 tokens
    assert text.cjk_ratio(mixed) == 4 / 11
    assert text.detect_lang(mixed) == "zh"
    assert text.detect_lang(mixed, threshold=0.5) == "en"
    assert text.detect_lang(["The Chinese word 你好 means hello in English."]) == "en"  # 2/9
    assert text.cjk_ratio(["", "   "]) == 0.0
    assert text.resolve_lang("auto", ["你好"]) == "zh"
    assert text.resolve_lang("zh-CN", ["hello"]) == "zh"
    assert text.resolve_lang("en", ["你好"]) == "en"


def test_encode_gives_equal_ids_for_equal_tokens():
    corpus = ["a b a", "", "b c", "你 好 你"]
    encoded = text.encode(corpus, "en")
    tokens = [t for row in text.tokenize(corpus, "en") for t in row]
    assert encoded.lengths.tolist() == [3, 0, 2, 3]
    assert encoded.offsets.tolist() == [0, 3, 3, 5]
    assert len(encoded.ids) == len(tokens) and encoded.vocab_size == len(set(tokens))
    same = np.equal.outer(encoded.ids, encoded.ids)
    assert (same == np.array([[a == b for b in tokens] for a in tokens])).all()
