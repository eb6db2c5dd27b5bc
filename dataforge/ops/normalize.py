"""normalize: one canonical form for every message content (messages, chosen, rejected).

Never rejects: it rewrites text and counts what changed (``turns_changed``,
``records_changed`` in the stats). Steps, in order (each vectorized over all contents):

1. line endings: ``\\r\\n``, ``\\r``, U+0085, U+2028, U+2029 become ``\\n``;
2. ``remove_control``: C0/C1 control characters except tab and newline, zero-width space,
   word joiner, BOM, soft hyphen, and the noncharacters U+FDD0..U+FDEF. Zero-width
   (non-)joiners stay: emoji sequences and Indic/Persian text need them; bidi marks stay:
   right-to-left text needs them;
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

_NEWLINES = r"\r\n?|[\x{85}\x{2028}\x{2029}]"
_CONTROL = r"[\x00-\x08\x0B-\x1F\x7F-\x9F\x{AD}\x{200B}\x{2060}\x{FEFF}\x{FDD0}-\x{FDEF}]"
_NONCHARACTERS = r"[\x{FDD0}-\x{FDEF}]"

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
        text = text.str.replace_all(_CONTROL, "")
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
            True, description="drop control characters (not tab/newline), zero-width space, BOM, soft hyphen"
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
