"""normalize: one canonical form for every message content (messages, chosen, rejected).

Never rejects: it rewrites text and counts what changed (``turns_changed``,
``records_changed`` in the stats). Steps, in order (each vectorized over all contents):

1. line breaks (Unicode's mandatory breaks): ``\\r\\n``, ``\\r``, vertical tab, form
   feed, U+0085, U+2028, U+2029 become ``\\n``;
2. ``remove_control``: every control and format character by one rule
   (:data:`CONTROL_RULE`, docs/ops/cleaning.md): no control character ever glues the text
   on its two sides together, so the other controls (NUL, ESC, DEL, C1...) become a space;
   invisible format characters that carry no content (soft hyphen, zero-width space, word
   joiner, BOM, bidi embeddings/overrides/isolates, invisible operators, language tags)
   are removed; zero-width (non-)joiners stay only between two letters, marks, digits or
   symbols (emoji sequences, Persian and Indic words), tag characters only in emoji flag
   sequences; the bidi marks LRM/RLM/ALM and the format characters that are part of a
   script (Arabic number signs, Egyptian hieroglyph controls...) stay. The noncharacters
   U+FDD0..U+FDEF are removed too (they are never text);
3. ``unicode_form`` (NFKC by default: compatibility forms folded, so ligatures, circled
   digits and half-width katakana become their plain forms), with ``fullwidth`` deciding
   what happens to full-width forms (U+FF01..U+FF5E, U+FFE0..U+FFE6, U+3000):

   * ``keep_punctuation`` (default): full-width letters and digits (ＡＢＣ１２３) become
     ASCII, full-width punctuation (，！？：；（）￥) stays. Plain NFKC would turn Chinese
     "你好，世界！" into "你好,世界!", which a model then learns to write;
   * ``halfwidth``: everything becomes ASCII (exactly NFKC's behaviour);
   * ``keep``: full-width forms stay as they are.

   NFKC cannot skip characters, so kept full-width characters are swapped for pairs of
   Unicode noncharacters (never valid in text, removed in step 2) around the
   normalization and swapped back after it;
4. ``collapse_whitespace``: trailing spaces before a newline removed; runs of spaces and
   tabs inside a line become one space (leading indentation stays, so code blocks keep
   their structure); at most one blank line in a row;
5. ``strip``: leading/trailing whitespace of each content removed.

The steps are idempotent together: normalizing twice gives the same text (tested).
"""

from __future__ import annotations

import unicodedata
from typing import Literal

import polars as pl
from pydantic import Field

from ..schemas.exprs import MESSAGE_LISTS, map_contents
from ..schemas.rejected import empty_rejected
from .base import Operator, OpConfig, OpResult, register_op

_NEWLINES = r"\r\n?|[\x0B\x0C\x{85}\x{2028}\x{2029}]"
#: every other control character (Cc): tab and line breaks are whitespace, the rest -> space
_CONTROLS = r"[\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]"
#: format characters (Cf) with no content of their own, and the noncharacters -> removed
_INVISIBLE = (
    r"[\x{AD}\x{200B}\x{202A}-\x{202E}\x{2060}-\x{2064}\x{2066}-\x{206F}\x{FEFF}"
    r"\x{FFF9}-\x{FFFB}\x{E0001}\x{FDD0}-\x{FDEF}]"
)
_NONCHARACTERS = r"[\x{FDD0}-\x{FDEF}]"
#: tag characters are kept only in emoji tag sequences (black flag + tags: 🏴 England)
_STRAY_TAGS = r"(^|[^\x{1F3F4}\x{E0020}-\x{E007F}])[\x{E0020}-\x{E007F}]+"
#: ZWNJ/ZWJ next to anything but a letter, mark, digit, symbol or another joiner
_JOINER = r"[\x{200C}\x{200D}]"
_WORDISH = r"\p{L}\p{M}\p{N}\p{S}\x{200C}\x{200D}"
_STRAY_JOINERS = (rf"(^|[^{_WORDISH}]){_JOINER}+", rf"{_JOINER}+([^{_WORDISH}]|$)")

#: what ``remove_control`` does with each control (Cc) and format (Cf) character; the
#: tests check that this covers every such character of the Unicode database
CONTROL_RULE: dict[str, str] = {
    "newline": "\n\x0b\x0c\r\x85",  # + U+2028, U+2029 (Zl, Zp)
    "whitespace": "\t",
    "space": "".join(map(chr, [*range(0x00, 0x09), *range(0x0E, 0x20), *range(0x7F, 0x85), *range(0x86, 0xA0)])),
    "removed": "".join(map(chr, [0xAD, 0x200B, *range(0x202A, 0x202F), *range(0x2060, 0x2065),
                                 *range(0x2066, 0x2070), 0xFEFF, *range(0xFFF9, 0xFFFC), 0xE0001])),
    "kept between letters, marks, digits or symbols": "\u200c\u200d",
    "kept in emoji tag sequences": "".join(map(chr, range(0xE0020, 0xE0080))),
    "kept (bidi marks)": "\u200e\u200f\u061c",
    "kept (part of a script)": "".join(map(chr, [*range(0x600, 0x606), 0x6DD, 0x70F, 0x890, 0x891, 0x8E2, 0x180E,
                                               0x110BD, 0x110CD, *range(0x13430, 0x13440), *range(0x1BCA0, 0x1BCA4),
                                               *range(0x1D173, 0x1D17B)])),
}

_FULLWIDTH = [chr(c) for c in range(0xFF01, 0xFF5F)] + [chr(c) for c in range(0xFFE0, 0xFFE7)]
_FULLWIDTH_ALNUM = [ch for ch in _FULLWIDTH if unicodedata.normalize("NFKC", ch).isalnum()]
_FULLWIDTH_PUNCT = [ch for ch in _FULLWIDTH if ch not in _FULLWIDTH_ALNUM]
_IDEOGRAPHIC_SPACE = "\u3000"


def _sentinel(i: int) -> str:
    """Two noncharacters that stand for the i-th kept character while NFKC runs."""
    return chr(0xFDD0 + i // 32) + chr(0xFDD0 + i % 32)


def normalize_text(
    text: pl.Expr,
    *,
    unicode_form: Literal["NFKC", "NFC", "none"] = "NFKC",
    fullwidth: Literal["keep_punctuation", "halfwidth", "keep"] = "keep_punctuation",
    remove_control: bool = True,
    collapse_whitespace: bool = True,
    strip: bool = True,
) -> pl.Expr:
    """The normalize op's rewrite of one string expression (see the module docstring)."""
    text = text.str.replace_all(_NEWLINES, "\n")
    if remove_control:
        text = (
            text.str.replace_all(_CONTROLS, " ")
            .str.replace_all(_INVISIBLE, "")
            .str.replace_all(_STRAY_TAGS, "$1")
        )
    if unicode_form == "NFKC":
        keep = {"keep_punctuation": _FULLWIDTH_PUNCT, "keep": _FULLWIDTH + [_IDEOGRAPHIC_SPACE]}
        protected = keep.get(fullwidth, [])
        if protected:
            sentinels = [_sentinel(i) for i in range(len(protected))]
            text = text.str.replace_all(_NONCHARACTERS, "").str.replace_many(protected, sentinels)
            text = text.str.normalize("NFKC").str.replace_many(sentinels, protected)
        else:
            text = text.str.normalize("NFKC")
    else:
        fold = {"halfwidth": _FULLWIDTH + [_IDEOGRAPHIC_SPACE], "keep_punctuation": _FULLWIDTH_ALNUM}
        folded = fold.get(fullwidth, [])
        if folded:
            text = text.str.replace_many(folded, [unicodedata.normalize("NFKC", ch) for ch in folded])
        # Compose after folding: a folded letter followed by a combining mark ("Ａ" + U+0301)
        # only composes once it is the plain letter, and normalize must be idempotent.
        if unicode_form == "NFC":
            text = text.str.normalize("NFC")
    if remove_control:  # after NFKC, which can turn a joiner's neighbour into a space
        for stray in _STRAY_JOINERS:
            text = text.str.replace_all(stray, "$1")
    if collapse_whitespace:
        text = (
            text.str.replace_all(r"[^\S\n]+(\n|$)", "$1")
            .str.replace_all(r"(\S)[^\S\n]+", "$1 ")
            .str.replace_all(r"\n{3,}", "\n\n")
        )
    if strip:
        text = text.str.strip_chars()
    return text


@register_op
class Normalize(Operator):
    """Normalize Unicode, control characters and whitespace in every message; never rejects."""

    name = "normalize"

    class Config(OpConfig):
        unicode_form: Literal["NFKC", "NFC", "none"] = Field(
            "NFKC", description="Unicode normalization form applied to every content"
        )
        fullwidth: Literal["keep_punctuation", "halfwidth", "keep"] = Field(
            "keep_punctuation",
            description="full-width forms: keep_punctuation (ＡＢＣ->ABC, ，stays), halfwidth (all to ASCII), keep",
        )
        remove_control: bool = Field(
            True, description="controls (not tab/newline) -> space; invisible format characters (zero-width "
            "space, BOM, soft hyphen, bidi overrides...) removed; joiners kept inside words and emoji "
            "(docs/ops/cleaning.md)"
        )
        collapse_whitespace: bool = Field(
            True, description="one space inside lines, no trailing spaces, at most one blank line"
        )
        strip: bool = Field(True, description="strip leading/trailing whitespace of each content")

    def process(self, records: pl.DataFrame) -> OpResult:
        params = self.config.model_dump()
        rewritten = records.with_columns(
            map_contents(c, lambda content: normalize_text(content, **params)) for c in MESSAGE_LISTS
        )
        contents = {
            c: pl.col(c).list.eval(pl.element().struct.field("content")) for c in MESSAGE_LISTS
        }
        before = records.select(**contents)
        after = rewritten.select(**contents)
        turns_changed = 0
        record_changed = pl.repeat(False, records.height, eager=True)
        for c in MESSAGE_LISTS:
            flat_before = before[c].explode(empty_as_null=False, keep_nulls=False)
            flat_after = after[c].explode(empty_as_null=False, keep_nulls=False)
            turns_changed += int(flat_before.ne_missing(flat_after).sum())
            record_changed |= before[c].ne_missing(after[c]).fill_null(False)
        return OpResult(
            rewritten, empty_rejected(),
            {"turns_changed": turns_changed, "records_changed": int(record_changed.sum())},
        )
