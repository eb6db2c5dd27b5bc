"""normalize: Unicode, control characters and whitespace, English and Chinese; never rejects."""

from __future__ import annotations

import unicodedata

import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from dataforge.errors import ConfigError

from dataforge.ops import make_op
from dataforge.ops.normalize import normalize_text
from dataforge.schemas import from_dicts, message


def norm(text: str | None, **params) -> str | None:
    return pl.select(normalize_text(pl.lit(text, dtype=pl.String), **params)).item()


def test_fullwidth_modes_en_and_zh():
    text = "你好，世界！ＡＢＣ１２３ ＧＰＴ"
    assert norm(text) == "你好，世界！ABC123 GPT"  # keep_punctuation (default)
    assert norm(text, fullwidth="halfwidth") == "你好,世界!ABC123 GPT"
    assert norm(text, fullwidth="halfwidth") == unicodedata.normalize("NFKC", text)
    assert norm(text, fullwidth="keep") == text
    # without NFKC the chosen folding still happens, and nothing else is folded
    assert norm("ﬁ ＡＢ，", unicode_form="NFC") == "ﬁ AB，"
    assert norm("ﬁ ＡＢ，", unicode_form="none", fullwidth="halfwidth") == "ﬁ AB,"
    assert norm("ﬁ ① ｶﾀｶﾅ ￥100") == "fi 1 カタカナ ￥100"


def test_control_characters_removed_but_joiners_kept():
    family = "👨\u200d👩\u200d👧"
    # a control never glues its neighbours together; invisible format characters go
    assert norm("a\x00b\x07c\u200bd\ufeffe\u00adf\x85g") == "a b cdef\ng"
    assert norm("第一行\x0b第二行\x0c第三页\x1fend") == "第一行\n第二行\n第三页 end"
    assert norm(f"家庭{family}") == f"家庭{family}"
    assert norm("a\x00b", remove_control=False) == "a\x00b"
    # noncharacters never survive: they are the sentinels of kept full-width characters
    assert norm("x\ufdd0\ufdd1y，") == "xy，"


def test_bidi_overrides_removed_marks_and_script_format_characters_kept():
    # Trojan-source style: what is stored must be what a reader sees
    assert norm("access\u202e \u2066level\u2069\u202c = admin") == "access level = admin"
    hebrew = "\u200fשלום, C++\u200e!"
    assert norm(hebrew) == hebrew  # RLM/LRM cannot reorder strong text; RTL display needs them
    arabic_year = "\u0600\u0661\u0669\u0669\u0669"  # Arabic number sign spans the digits after it
    assert norm(arabic_year) == arabic_year


def test_joiners_kept_inside_words_and_emoji_only():
    persian = "می\u200cخواهم"  # ZWNJ keeps the prefix visually apart
    devanagari = "क्\u200dष"  # ZWJ asks for the half form
    flag = "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"  # England: tags after a black flag
    rainbow = "🏳\ufe0f\u200d🌈"
    for text in (persian, devanagari, flag, rainbow):
        assert norm(text) == text
    assert norm("\u200dhello\u200c world \u200d") == "hello world"
    assert norm("a\U000e0067b") == "ab"  # a stray tag character is invisible noise


def test_the_rule_covers_every_control_and_format_character():
    """docs/ops/cleaning.md: each Cc/Cf character of the Unicode database is in exactly one
    class of CONTROL_RULE, and behaves as its class says when alone between two letters."""
    import sys

    from dataforge.ops.normalize import CONTROL_RULE

    classes = {ch: name for name, chars in CONTROL_RULE.items() for ch in chars}
    assert sum(len(chars) for chars in CONTROL_RULE.values()) == len(classes)  # no overlap
    every = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) in ("Cc", "Cf")]
    assert not [f"U+{ord(c):04X}" for c in every if c not in classes]
    texts = pl.Series([f"a{ch}b" for ch in classes])
    out = dict(zip(classes, pl.select(normalize_text(pl.lit(texts))).to_series().to_list()))
    expected = {"newline": "a\nb", "whitespace": "a b", "space": "a b", "removed": "ab",
                "kept in emoji tag sequences": "ab"}
    for ch, name in classes.items():
        assert out[ch] == expected.get(name, f"a{ch}b"), (f"U+{ord(ch):04X}", name, out[ch])


def test_whitespace_collapse_keeps_code_indentation():
    text = "  Here  is\tcode:  \r\n\r\n\r\n\r\ndef f(x):\n    return  x\u3000+ 1   \n\n\n"
    assert norm(text) == "Here is code:\n\ndef f(x):\n    return x + 1"
    assert norm(text, collapse_whitespace=False, strip=False).startswith("  Here  is\tcode:  \n")
    assert norm("　　第一段。\n　　第二段。") == "第一段。\n  第二段。"  # NFKC: U+3000 -> space


def test_op_rewrites_all_lists_and_counts_changes():
    tool_calls = [{"id": "c1", "name": "f", "arguments": '{"q":  "ＡＢ"}'}]
    table = from_dicts([
        {"id": "a", "messages": [message("user", " hi  there "), message("assistant", None, tool_calls=tool_calls)]},
        {"id": "b", "messages": [message("user", "问题？")], "chosen": [message("assistant", "ＡＢ。")],
         "rejected": [message("assistant", "好的\u200b")]},
        {"id": "c", "messages": [message("user", "clean"), message("assistant", "clean")]},
    ])
    result = make_op("normalize")(table)
    assert result.rejected.height == 0 and result.kept.height == 3
    assert result.stats["turns_changed"] == 3 and result.stats["records_changed"] == 2
    a, b, c = result.kept.to_dicts()
    assert a["messages"][0]["content"] == "hi there"
    assert a["messages"][1]["content"] is None and a["messages"][1]["tool_calls"] == tool_calls  # untouched
    assert (b["chosen"][0]["content"], b["rejected"][0]["content"]) == ("AB。", "好的")
    assert b["messages"][0]["content"] == "问题？"
    assert c == table.row(2, named=True)
    assert result.kept.schema == table.schema


def test_empty_table_and_bad_config():
    assert make_op("normalize")(from_dicts([])).kept.height == 0
    with pytest.raises(ConfigError):
        make_op("normalize", {"unicode_form": "NFKD"})
    with pytest.raises(ConfigError):
        make_op("normalize", {"fullwidth": "yes"})


_chars = st.sampled_from(
    list("ab Z9,.!，。！？ＡＢ１２　\t\n\r你好カﾀｶﾅ") + ["\x00", "\u200b", "\u200d", "\ufeff", "\u0301", "\u00a8",
                                                     "\u2028", "\x85", "ﬁ", "①", "e\u0301", "\ufdd0", "  ",
                                                     "\x0b", "\x0c", "\u202e", "\u200c", "\u200f", "👨",
                                                     "\U000e0067", "🏴", "\ufe0f", "\u0600"]
)
_text = st.lists(_chars, max_size=30).map("".join)
_params = st.fixed_dictionaries({
    "unicode_form": st.sampled_from(["NFKC", "NFC", "none"]),
    "fullwidth": st.sampled_from(["keep_punctuation", "halfwidth", "keep"]),
    "remove_control": st.booleans(),
    "collapse_whitespace": st.booleans(),
    "strip": st.booleans(),
})


@settings(max_examples=300, deadline=None)
@given(st.lists(_text, min_size=1, max_size=8), _params)
@example(  # a full-width letter + combining accent composes only after folding
    ["\uff21\u0301"],
    {"unicode_form": "NFC", "fullwidth": "keep_punctuation", "remove_control": True,
     "collapse_whitespace": True, "strip": True},
)
def test_idempotent(texts, params):
    expr = lambda s: normalize_text(s, **params)  # noqa: E731
    once = pl.select(expr(pl.lit(pl.Series(texts)))).to_series()
    twice = pl.select(expr(pl.lit(once))).to_series()
    assert once.to_list() == twice.to_list()


@settings(max_examples=25, deadline=None)
@given(st.lists(_text, max_size=6))
def test_never_rejects(texts):
    table = from_dicts({"messages": [message("user", t), message("assistant", t or None)]} for t in texts)
    result = make_op("normalize")(table)
    assert result.kept.height == table.height and result.rejected.height == 0
    assert result.kept["id"].to_list() == table["id"].to_list()
