"""What the recognizers see: text with compatibility forms folded to ASCII, offsets intact.

PII written in full-width or other compatibility forms (``ｔｅｓｔ＠ｅｘａｍｐｌｅ．ｃｏｍ``,
``１３８００１３８０００``, math letters) is the same PII, but presidio's patterns are ASCII.
Detection therefore runs on a folded copy in which every character whose NFKC form is a
single ASCII character is replaced by it (full-width forms, the ideographic space,
superscripts, circled digits...), and the spans found there mask the *original* text.
Because each folded character stays one character, every offset in the folded copy is
the offset in the original; plain NFKC could not promise that (``ﬁ`` becomes two letters).
"""

from __future__ import annotations

import sys
import unicodedata
from functools import cache

import polars as pl


@cache
def _folds() -> tuple[list[str], list[str]]:
    pairs = [
        (ch, folded) for ch in map(chr, range(0x80, sys.maxunicode + 1))
        if len(folded := unicodedata.normalize("NFKC", ch)) == 1 and folded.isascii()
    ]
    return [a for a, _ in pairs], [b for _, b in pairs]


def fold_for_detection(texts: pl.Series) -> pl.Series:
    """``texts`` with one-character ASCII compatibility forms folded (same length, same offsets)."""
    sources, targets = _folds()
    return texts.str.replace_many(sources, targets)
