"""Text utilities shared by cleaning, dedup and decontamination, with Chinese first-class.

English separates words with spaces; Chinese and Japanese do not. Everything here rests
on one tokenizer that handles both: every Han or kana character is a token of its own and
every other run of letters, digits and marks is a word token (punctuation and spaces are
dropped). Word n-grams over that token sequence are word shingles for English and
character shingles for Chinese, and mixed text ("用Python写代码") needs no special case.
Only the n differs, chosen per text by its script (:func:`cjk_share`): 3 words carry about
as much as 5 Chinese characters.

Two kinds of helpers:

* polars expressions (stay vectorized inside any ``select``): :func:`tokens`,
  :func:`cjk_share`, :func:`script_counts`, :func:`normalize_for_matching`,
  :func:`strip_code`;
* :func:`shingle_hashes`: 64-bit hashes of all n-grams of a batch of texts, as flat numpy
  arrays (one pass over all tokens of the batch, never a Python loop per text or per
  n-gram), the input of MinHash and of the repetition filter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from .errors import ConfigError

#: Scripts written without spaces between words: each character is one token.
#: (Hangul is not here: Korean puts spaces between words.) U+30FC is the katakana
#: prolonged sound mark, whose Unicode script is "Common".
UNSEGMENTED = r"\p{Han}\p{Hiragana}\p{Katakana}\x{30FC}"

#: One token: a single Han/kana character, or a run of other letters, digits and marks.
TOKEN_PATTERN = rf"[{UNSEGMENTED}]|[[\p{{L}}\p{{N}}\p{{M}}]--[{UNSEGMENTED}]]+"

_HAN = r"\p{Han}"
_KANA = r"[\p{Hiragana}\p{Katakana}\x{30FC}]"
_LATIN_WORD = r"\p{Latin}+"
_OTHER_WORD = rf"[\p{{L}}--[\p{{Latin}}{UNSEGMENTED}]]+"

#: Fenced (```...```, ~~~...~~~) and inline (`...`) code: not prose, so script and
#: placeholder checks skip it.
CODE_PATTERN = r"(?s)```.*?(?:```|$)|~~~.*?(?:~~~|$)|`[^`\n]+`"

Tokenization = Literal["auto", "words", "chars"]


def tokens(text: pl.Expr) -> pl.Expr:
    """list[str] of tokens: one per Han/kana character, one per other word."""
    return text.str.extract_all(TOKEN_PATTERN)


def cjk_share(text: pl.Expr) -> pl.Expr:
    """Share of tokens that are Han/kana characters (0.0 for text without tokens).

    Counting tokens rather than characters weighs one Chinese character against one
    English word, so "用Python写代码" (4 of 5 tokens) reads as Chinese.
    """
    cjk = text.str.count_matches(rf"[{UNSEGMENTED}]")
    total = text.str.count_matches(TOKEN_PATTERN)
    return pl.when(total > 0).then(cjk / total).otherwise(0.0)


def script_counts(text: pl.Expr) -> pl.Expr:
    """struct{han, kana, latin, other}: Han and kana characters, Latin and other-script words.

    Units as in :func:`cjk_share` (a character for Han/kana, a word otherwise); digits
    and punctuation count for no script. ``other`` is every other alphabet (Cyrillic,
    Arabic, Hangul, ...).
    """
    return pl.struct(
        text.str.count_matches(_HAN).alias("han"),
        text.str.count_matches(_KANA).alias("kana"),
        text.str.count_matches(_LATIN_WORD).alias("latin"),
        text.str.count_matches(_OTHER_WORD).alias("other"),
    )


def strip_code(text: pl.Expr) -> pl.Expr:
    """Remove fenced and inline code spans (an unclosed fence runs to the end)."""
    return text.str.replace_all(CODE_PATTERN, " ")


def normalize_for_matching(text: pl.Expr, *, strip_punctuation: bool = False) -> pl.Expr:
    """NFKC + lowercase + whitespace collapsed + stripped: the text two copies share.

    Used to decide whether two texts are "the same" (exact dedup, decontamination), so
    width variants (ＡＢＣ/ABC), case and spacing never hide a duplicate. Spaces next to a
    Han/kana character are dropped (Chinese and Japanese do not use them, so "用 Python"
    and "用Python" are the same text). Lowercasing is Unicode lowercase (polars), which
    equals ``str.casefold`` except for a few special cases such as German ß.
    ``strip_punctuation`` also drops punctuation and symbols.
    """
    out = text.str.normalize("NFKC").str.to_lowercase()
    if strip_punctuation:
        out = out.str.replace_all(r"[\p{P}\p{S}]+", " ")
    out = out.str.replace_all(r"\s+", " ").str.strip_chars()
    return out.str.replace_all(rf"([{UNSEGMENTED}]) ", "$1").str.replace_all(rf" ([{UNSEGMENTED}])", "$1")


#: Characters NFKC never changes and never composes with: ASCII and the CJK Unified
#: Ideographs block. Text made only of them is already NFKC.
_NFKC_STABLE = r"^[\x00-\x7F\x{4E00}-\x{9FFF}]*$"


def nfkc(texts: pl.Series) -> pl.Series:
    """NFKC of a string Series, skipping rows that are already NFKC (plain ASCII or
    ASCII + common Han): normalizing them is the slowest step of shingling and a no-op."""
    todo = ~texts.str.contains(_NFKC_STABLE).fill_null(True)
    if not todo.any():
        return texts
    idx = todo.arg_true()
    return texts.scatter(idx, texts.gather(idx).str.normalize("NFKC"))


# -- shingling --------------------------------------------------------------------------------

_POLY = np.uint64(0x9E3779B97F4A7C15)  # odd multiplier of the rolling combination


def fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finalizer: an avalanching bijection (uint64 in, uint64 out)."""
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


@dataclass(frozen=True)
class Shingles:
    """The n-gram hashes of a batch of texts, flat and in text order.

    ``doc[i]`` is the index of the text that shingle ``i`` came from (non-decreasing);
    ``hashes[i]`` its 64-bit hash. A text with no tokens has no shingles; a text with
    fewer tokens than n has exactly one shingle (all its tokens), so short texts still
    compare. ``char_mode[d]`` says whether text ``d`` was shingled by characters;
    ``n_tokens[d]`` is its token count (fewer than n: its one shingle is the whole text).
    """

    doc: np.ndarray
    hashes: np.ndarray
    n_docs: int
    char_mode: np.ndarray
    n_tokens: np.ndarray

    def counts(self) -> np.ndarray:
        """Number of shingles per text."""
        return np.bincount(self.doc, minlength=self.n_docs)


def shingle_hashes(
    texts: pl.Series,
    *,
    ngram_words: int,
    ngram_chars: int,
    tokenization: Tokenization = "auto",
    cjk_threshold: float = 0.5,
    seed: int = 0,
) -> Shingles:
    """Hash every token n-gram of every text, vectorized over the whole batch.

    ``tokenization="auto"`` picks, per text, character n-grams (``ngram_chars``) when at
    least ``cjk_threshold`` of its tokens are Han/kana, else word n-grams
    (``ngram_words``); ``"words"``/``"chars"`` force one n for all texts. Texts are used
    as given (normalize first). Null texts have no shingles.

    Tokens are hashed once (polars' seeded hash: stable within a run, not across polars
    versions), then the n token hashes of each n-gram are folded with a polynomial in
    uint64 and finished with :func:`fmix64`, so no n-gram string is ever built.
    """
    if ngram_words < 1 or ngram_chars < 1:
        raise ConfigError("n-gram sizes must be at least 1")
    frame = pl.DataFrame({"t": texts.cast(pl.String)})
    tok = frame.select(
        tokens(pl.col("t")).alias("tok"),
        pl.col("t").str.count_matches(rf"[{UNSEGMENTED}]").alias("cjk"),
    )
    lens = tok["tok"].list.len().fill_null(0).to_numpy().astype(np.int64)
    n_docs = len(lens)
    flat = tok["tok"].explode(empty_as_null=False, keep_nulls=False)
    token_hash = flat.hash(seed).to_numpy()

    if tokenization == "auto":  # cjk_share, from the token counts we already have
        cjk = tok["cjk"].fill_null(0).to_numpy()
        char_mode = (cjk >= cjk_threshold * lens) & (lens > 0)
    else:
        char_mode = np.full(n_docs, tokenization == "chars")
    n_doc = np.where(char_mode, ngram_chars, ngram_words).astype(np.int64)

    # A text has an n-gram wherever n tokens remain; a text shorter than n has one (all of it).
    count = np.where(lens >= n_doc, lens - n_doc + 1, (lens > 0).astype(np.int64))
    token_start = np.cumsum(lens) - lens
    shingle_start = np.cumsum(count) - count
    doc = np.repeat(np.arange(n_docs, dtype=np.int64), count)
    first = np.repeat(token_start - shingle_start, count) + np.arange(int(count.sum()), dtype=np.int64)
    width = np.minimum(n_doc, lens)[doc]

    h = np.zeros(len(first), np.uint64)
    with np.errstate(over="ignore"):
        for j in range(int(width.max()) if len(width) else 0):
            if j == 0 or (width > j).all():
                h = h * _POLY + token_hash[first + j]
            else:
                take = width > j
                h[take] = h[take] * _POLY + token_hash[first[take] + j]
        h = fmix64(h ^ width.astype(np.uint64))
    return Shingles(doc=doc, hashes=h, n_docs=n_docs, char_mode=char_mode, n_tokens=lens)
