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


def test_zh_reproduces_sacrebleu_quirks():
    """sacrebleu's range ``u'\\u20000'`` is U+2000 + "0": every symbol U+2001-U+2A6D is split
    off (℃ → ≥ √ € ™), Extension B ideographs and kana are not (they are in no range)."""
    samples = ["温度30℃", "A→B", "x≥3", "√2", "€5", "Posttrain™", "𠀀𠀁字", "ひらがなカタカナ", "\x1c.5元"]
    assert text.tokenize(samples, "zh") == [TokenizerZh()(s).split() for s in samples]
    assert text.tokenize(["温度30℃"], "zh") == [["温", "度", "30", "℃"]]
    assert text.tokenize(["ひらがな𠀀"], "zh") == [["ひらがな𠀀"]]


# pieces of realistic mixed Chinese/English answers: units, symbols, currencies, code, emoji
_ZH_WORDS = ["温度", "血压", "体重", "价格", "速度", "模型", "训练", "数据集", "推理", "显存", "患者",
             "建议", "每天", "服用", "约为", "大于", "小于", "增加了", "下降", "参数量", "准确率", "请注意"]
_EN_WORDS = ["GPU", "LoRA", "batch size", "Qwen2.5-7B", "API", "JSON", "pip install torch", "learning rate",
             "SFT", "DPO", "p<0.05", "e.g.", "i.e.", "Dr. Wang", "U.S.", "v2.1.0", "x86_64", "C++", "don't"]
_UNITS = ["℃", "°C", "°F", "kg", "mg", "mmHg", "km/h", "m²", "m³", "μm", "%", "‰", "GB", "ms", "¥", "$", "€", "£",
          "元", "万", "亿", "mL", "kWh", "Ω", "Å"]
_SYMBOLS = ["→", "←", "↑", "≥", "≤", "≈", "≠", "±", "×", "÷", "√", "∞", "∑", "•", "…", "—", "–", "“", "”", "‘", "’",
            "™", "©", "®", "§", "¶", "☆", "★", "✓", "✗", "①", "②", "Ⅲ", "№", "，", "。", "、", "：", "；", "！", "？",
            "（", "）", "《", "》", "「", "」", "【", "】", "·", "〜", "＄", "１２", "ＡＢ", "😀", "👍", "𠀀", "𪚥",
            "ひらがな", "カタカナ", "한국어", "Привет", "é", "ß", "\u3000", "\u2002", "\u00a0", "\t", "\n", "&amp;",
            "-", "/", ".", ",", "'", '"', "(", ")", "[", "]", ":", ";", "!", "?", "<", ">", "=", "+", "*", "#", "@"]


def _mixed_texts(count: int, seed: int = 0) -> list[str]:
    """Seeded synthetic answers mixing Chinese, English, numbers with units and symbols."""
    import random

    rng = random.Random(seed)

    def number() -> str:
        value = rng.choice([str(rng.randint(0, 999)), f"{rng.uniform(0, 100):.{rng.randint(1, 3)}f}",
                            f"{rng.randint(1, 99)},{rng.randint(100, 999)}", f"-{rng.randint(1, 50)}",
                            f"{rng.randint(1, 9)}/{rng.randint(2, 9)}", f"{rng.randint(1, 9)}e-{rng.randint(1, 9)}"])
        return value + (rng.choice(_UNITS) if rng.random() < 0.7 else "")

    pieces = [lambda: rng.choice(_ZH_WORDS), lambda: rng.choice(_EN_WORDS), number, lambda: rng.choice(_SYMBOLS)]
    out = []
    for _ in range(count):
        parts = [rng.choices(pieces, weights=[5, 2, 2, 2])[0]() for _ in range(rng.randint(1, 25))]
        out.append("".join(p + (" " if rng.random() < 0.3 else "") for p in parts))
    return out


def test_zh_tokens_equal_sacrebleu_on_thousands_of_mixed_texts():
    texts = _mixed_texts(3000)
    reference = TokenizerZh()
    expected = [reference(t).split() for t in texts]
    assert text.tokenize(texts, "zh") == expected
    # the sample really exercises the quirk: symbols from U+2001-U+2A6D split off
    assert sum("℃" in row for row in expected) > 50 and sum("≥" in row for row in expected) > 20


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
