"""Word tokens for English, character tokens for Chinese, and telling the two apart.

Metrics that count n-grams themselves (Distinct-n, Self-BLEU) and any other code that needs
"words" of a text share this module, so a Chinese corpus is never silently scored as one
"word" per sentence:

* ``en``: the tokenization of sacrebleu's ``13a`` (mteval-v13a, the WMT standard): punctuation
  split off, periods/commas kept inside numbers, whitespace-separated tokens.
* ``zh``: sacrebleu's ``zh``, exactly: every character in its table (CJK ideographs, CJK and
  fullwidth punctuation, and through a quirk of that table every symbol from U+2001 to
  U+2A6D, so ``30℃`` is ``30 ℃``) is a token of its own; runs of other characters (Latin
  words, numbers, kana) are tokenized as above.

The language of a corpus is decided once per corpus by the share of Han/kana tokens
(``detect_lang``, counted with ``dataforge.text``'s tokens), never per text: a per-text
switch would let one English sentence in a Chinese corpus be counted in a different unit.

Everything runs in polars (Rust regexes over the whole column); the tests check the tokens
against sacrebleu's own tokenizers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
import polars as pl

from dataforge.text import TOKEN_PATTERN, UNSEGMENTED

Lang = Literal["en", "zh"]

#: Characters that ``zh`` tokenization isolates: exactly the characters for which
#: sacrebleu's ``TokenizerZh._is_chinese_char`` is true. Its table compares one-character
#: strings with range bounds, and two bounds are written ``u'\u20000'``/``u'\u2a6d6'`` (meant as
#: the Extension B code points U+20000-U+2A6D6), which Python reads as two characters each
#: ("\u2000" + "0"): as strings, every character from U+2001 to U+2A6D lies between them.
#: So sacrebleu splits off general punctuation, letterlike symbols, arrows, maths operators
#: (U+2001-U+2A6D: ℃, →, ≥, √, €, ™...) and never splits Extension B characters or kana.
#: We reproduce that, quirk included: scores then equal sacrebleu's ``zh`` tokenization.
_ZH_SPLIT = (
    r"\x{2001}-\x{2A6D}"  # sacrebleu's quirk range (contains its Kangxi, radicals, dingbats...)
    r"\x{2E80}-\x{2EFF}"  # CJK radicals supplement
    r"\x{2F00}-\x{2FDF}\x{2FF0}-\x{2FFF}"  # Kangxi radicals, ideographic description
    r"\x{3000}-\x{303F}"  # CJK symbols and punctuation: 。、「」
    r"\x{3100}-\x{312F}\x{31A0}-\x{31BF}\x{31C0}-\x{31EF}"  # bopomofo (+ extension), strokes
    r"\x{3200}-\x{33FF}"  # enclosed CJK, compatibility
    r"\x{3400}-\x{4DB5}"  # Extension A (as of Unicode 3.0)
    r"\x{4E00}-\x{9FBB}"  # unified ideographs (as of Unicode 4.1)
    r"\x{F900}-\x{FA2D}\x{FA30}-\x{FA6A}\x{FA70}-\x{FAD9}"  # compatibility ideographs
    r"\x{FE10}-\x{FE1F}\x{FE30}-\x{FE4F}"  # vertical and compatibility forms
    r"\x{FF00}-\x{FFEF}"  # fullwidth and halfwidth forms: ，！？（）
)
#: What Python's ``str.strip()`` removes (``str.isspace``): Unicode White_Space plus the
#: ASCII separators U+001C-U+001F, which Rust's (polars') whitespace lacks.
_PY_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000"
)

# sacrebleu's TokenizerRegexp, in Rust regex syntax; applied in this order.
_WORD_RULES: tuple[tuple[str, str], ...] = (
    # split off most ASCII punctuation (sacrebleu's class also holds the space, a no-op)
    (r"[{-~\[-`!-&(-+:-@/]", " $0 "),
    (r"([^0-9])([.,])", "$1 $2 "),  # period/comma unless preceded by a digit
    (r"([.,])([^0-9])", " $1 $2"),  # period/comma unless followed by a digit
    (r"([0-9])(-)", "$1 $2 "),  # dash after a digit
)
# 13a's language-independent pre-processing (literal replacements, in this order).
_13A_REPLACE: tuple[tuple[str, str], ...] = (
    ("<skipped>", ""),
    ("-\n", ""),
    ("\n", " "),
    ("&quot;", '"'),
    ("&amp;", "&"),
    ("&lt;", "<"),
    ("&gt;", ">"),
)
# Python's str.split() whitespace = Unicode White_Space plus the ASCII separators 0x1C-0x1F.
_TOKEN = r"[^\s\x{1C}-\x{1F}]+"

#: sacrebleu's name for each language's tokenization, for metric signatures.
TOKENIZER_NAME: dict[str, str] = {"en": "13a", "zh": "zh"}

#: Share of Han/kana tokens from which a corpus counts as Chinese. Below one half on
#: purpose: Chinese answers full of code or English terms must still read as Chinese.
ZH_THRESHOLD = 0.3


def cjk_ratio(texts: Sequence[str]) -> float:
    """Share of Han/kana characters among the corpus's tokens (0 if it has none).

    Tokens as in ``dataforge.text`` (one per Han/kana character, one per other word, no
    punctuation), so one Chinese character weighs as much as one English word.
    """
    s = pl.Series(list(texts), dtype=pl.String).fill_null("")
    cjk = s.str.count_matches(f"[{UNSEGMENTED}]").sum()
    total = s.str.count_matches(TOKEN_PATTERN).sum()
    return float(cjk) / total if total else 0.0


def detect_lang(texts: Sequence[str], threshold: float = ZH_THRESHOLD) -> Lang:
    """``zh`` when the corpus's CJK ratio reaches ``threshold``, else ``en``."""
    return "zh" if cjk_ratio(texts) >= threshold else "en"


def resolve_lang(lang: str, texts: Sequence[str]) -> Lang:
    """Turn a user's ``lang`` ('auto', 'en', 'zh', or a code like 'zh-CN') into en/zh."""
    code = lang.lower()
    if code == "auto":
        return detect_lang(texts)
    if code.startswith(("zh", "ja")):
        return "zh"
    return "en"


def _tokenized_column(texts: Sequence[str], lang: Lang) -> pl.Series:
    """A list[str] column of tokens, one row per text."""
    s = pl.Series(list(texts), dtype=pl.String).fill_null("")
    if lang == "zh":
        s = s.str.strip_chars(_PY_WHITESPACE).str.replace_all(f"[{_ZH_SPLIT}]", " $0 ")
    else:
        for old, new in _13A_REPLACE:
            s = s.str.replace_all(old, new, literal=True)
        s = " " + s + " "  # 13a pads the line: a leading ".5" splits like an inner one
    for pattern, repl in _WORD_RULES:
        s = s.str.replace_all(pattern, repl)
    return s.str.extract_all(_TOKEN)


def tokenize(texts: Sequence[str], lang: Lang) -> list[list[str]]:
    """Tokens of every text (``lang`` already resolved, see ``resolve_lang``)."""
    return _tokenized_column(texts, lang).to_list()


@dataclass(frozen=True)
class TokenIds:
    """A tokenized corpus as flat integer arrays, the input of vectorized n-gram counting.

    ``ids[offsets[i]:offsets[i] + lengths[i]]`` are the tokens of text ``i``; equal tokens
    have equal ids (dense, ``0 <= id < vocab_size``).
    """

    ids: np.ndarray  # int64, all tokens of all texts concatenated
    lengths: np.ndarray  # int64, tokens per text
    vocab_size: int

    @property
    def offsets(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)


def encode(texts: Sequence[str], lang: Lang) -> TokenIds:
    """Tokenize and map every distinct token to a dense integer id, without a Python loop."""
    column = _tokenized_column(texts, lang)
    lengths = column.list.len().to_numpy().astype(np.int64)
    flat = column.explode(empty_as_null=False, keep_nulls=False)
    codes = flat.cast(pl.Categorical).to_physical().to_numpy()
    vocab, ids = np.unique(codes, return_inverse=True)
    return TokenIds(ids=ids.astype(np.int64), lengths=lengths, vocab_size=len(vocab))
