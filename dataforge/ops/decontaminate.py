"""decontaminate: drop training records whose prompt shares a long n-gram with an eval set.

Why: a benchmark question in the training data inflates every later score. We follow the
GPT-3 / Llama practice of long n-gram overlap: 13 words by default, and for Chinese and
Japanese, which put no spaces between words, 20 consecutive Han/kana characters. Text is
NFKC-normalized and lowercased (``dataforge.text.normalize_for_matching``); words are runs
of letters/digits, Han/kana characters are taken as one character stream with punctuation,
spaces and other words removed, so formatting differences do not hide a copy. Every text
yields both kinds of n-grams, so an English prompt quoting a Chinese eval item is caught.

Vectorized: n-grams are hashed for the whole shard at once by the shingling shared with
dedup and the repetition filter (``dataforge.text.shingle_hashes``: a loop over the n
positions, never over rows). The eval set's n-gram hashes are built once per op; records
are matched with a hash join, and each candidate is confirmed by comparing the n-gram text,
so a hash collision cannot reject a clean record. Each rejected row says which eval item
and which n-gram matched.

Limits: an eval item shorter than ``n`` words (or ``cjk_chars`` characters) yields no
n-gram and cannot be matched; use exact dedup against the eval set for very short items.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from pydantic import Field

from ..errors import MissingFileError
from ..schemas.exprs import conversation_text
from ..text import UNSEGMENTED, normalize_for_matching, shingle_hashes
from .base import Operator, OpConfig, OpResult, register_op

_WORD_RE = rf"[[\p{{L}}\p{{N}}\p{{M}}]--[{UNSEGMENTED}]]+"
_NOT_CJK_RE = rf"[^{UNSEGMENTED}]"
_MATCH_CAP = 100


def _grams(texts: pl.Series, n_words: int, n_chars: int) -> pl.DataFrame:
    """All word and CJK-character n-grams of ``texts``: (doc, kind, pos, hash) rows.

    ``kind`` is "w" (word n-gram) or "c" (CJK character n-gram); ``pos`` is the token
    offset inside the document, so the n-gram text can be rebuilt for the report. The
    hashes are :func:`dataforge.text.shingle_hashes` over two token streams per text: its
    words (Han/kana removed) and its Han/kana characters (everything else removed). A
    stream shorter than n has no n-gram here (``shingle_hashes`` would give it one).
    """
    schema = {"doc": pl.UInt32, "kind": pl.String, "pos": pl.Int64, "hash": pl.UInt64}
    norm = pl.DataFrame({"_t": texts.fill_null("")}).select(normalize_for_matching(pl.col("_t")))["_t"]
    streams = (
        ("w", n_words, "words", norm.str.replace_all(rf"[{UNSEGMENTED}]", " ")),
        ("c", n_chars, "chars", norm.str.replace_all(_NOT_CJK_RE, "")),
    )
    parts = []
    for kind, n, tokenization, stream in streams:
        sh = shingle_hashes(stream, ngram_words=n, ngram_chars=n, tokenization=tokenization)
        counts = sh.counts()
        pos = np.arange(len(sh.doc), dtype=np.int64) - (np.cumsum(counts) - counts)[sh.doc]
        full = sh.n_tokens[sh.doc] >= n
        parts.append(
            pl.DataFrame(
                {"doc": sh.doc[full], "kind": kind, "pos": pos[full], "hash": sh.hashes[full]}, schema=schema
            )
        )
    return pl.concat(parts, how="vertical")


def _gram_text(texts: pl.Expr, kind: pl.Expr, pos: pl.Expr, n_words: int, n_chars: int) -> pl.Expr:
    """Rebuild the n-gram string at (kind, pos) from the raw text (for checking and reporting)."""
    lower = normalize_for_matching(texts.fill_null(""))
    words = lower.str.extract_all(_WORD_RE).list.slice(pos, n_words).list.join(" ")
    chars = lower.str.replace_all(_NOT_CJK_RE, "").str.slice(pos, n_chars)
    return pl.when(kind == "w").then(words).otherwise(chars)


def _read_eval_texts(path: str, fmt: str | None) -> tuple[list[str], list[str]]:
    """(ids, texts) of an eval file: ``.txt`` is one item per line (id ``name:line``), else
    any format ``dataforge.formats`` reads (id = record id; text = user + assistant turns)."""
    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"eval set {path!r} does not exist")
    if p.suffix.lower() == ".txt" and fmt is None:
        numbered = [(i, line) for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if line.strip()]
        return [f"{p.name}:{i}" for i, _ in numbered], [line for _, line in numbered]
    from ..formats.api import read

    df = read(p, format=fmt)
    texts = df.select(conversation_text("messages", roles=["user", "assistant"]).alias("t"))["t"]
    return df["id"].to_list(), texts.to_list()


@register_op
class Decontaminate(Operator):
    """Drop records whose user turns share a long n-gram with an eval set.

    An n-gram is 13 words, or 20 Han/kana characters for Chinese/Japanese, after NFKC +
    lowercasing; punctuation and spacing do not matter. Each rejected row (reason
    ``eval_contamination``) names the eval item and the shared n-gram.
    """

    name = "decontaminate"

    class Config(OpConfig):
        eval_set: str | list[str] = Field(
            description="eval data: a file in any readable format (.txt = one item per line) or a list of texts"
        )
        eval_format: str | None = Field(None, description="format of the eval file (default: detect)")
        n: int = Field(13, ge=3, description="word n-gram length")
        cjk_chars: int = Field(20, ge=5, description="character n-gram length for Chinese/Japanese (Han/kana) text")
        roles: list[str] = Field(["user"], description="record turns checked (the prompt by default)")

    @classmethod
    def example_params(cls) -> dict[str, Any]:
        """For the every-op contract test: a tiny inline eval set."""
        return {"eval_set": ["What is the capital of France? Answer in one word please, thank you kindly."]}

    #: the eval set's size is a fact about the set-up, the same in every shard and process
    report_once = frozenset({"eval_items", "eval_ngrams"})

    def __init__(self, config: Any = None, **params: Any) -> None:
        super().__init__(config, **params)
        self._eval: pl.DataFrame | None = None
        self._eval_stats: dict[str, int] = {}

    def setup(self) -> None:
        """Read the eval set and hash its n-grams (once)."""
        self._eval_grams()

    def close(self) -> None:
        self._eval, self._eval_stats = None, {}

    def _eval_grams(self) -> pl.DataFrame:
        """Eval n-grams, built once: (kind, hash) -> first (eval id, eval text, pos)."""
        if self._eval is not None:
            return self._eval
        cfg = self.config
        if isinstance(cfg.eval_set, str):
            ids, texts = _read_eval_texts(cfg.eval_set, cfg.eval_format)
        else:
            ids, texts = [f"eval[{i}]" for i in range(len(cfg.eval_set))], list(cfg.eval_set)
        items = pl.DataFrame({"eval_id": ids, "eval_text": texts}, schema={"eval_id": pl.String, "eval_text": pl.String})
        grams = _grams(items["eval_text"], cfg.n, cfg.cjk_chars).unique(["kind", "hash"], keep="first", maintain_order=True)
        self._eval = grams.join(items.with_row_index("doc"), on="doc").rename({"pos": "eval_pos"}).drop("doc")
        self._eval_stats = {"eval_items": items.height, "eval_ngrams": grams.height}
        return self._eval

    def process(self, records: pl.DataFrame) -> OpResult:
        cfg = self.config
        eval_grams = self._eval_grams()
        prompts = records.select(conversation_text("messages", roles=cfg.roles).alias("prompt"))["prompt"]
        matches = (
            _grams(prompts, cfg.n, cfg.cjk_chars)
            .join(eval_grams, on=["kind", "hash"], how="inner")
            .join(pl.DataFrame({"prompt": prompts}).with_row_index("doc"), on="doc")
            .with_columns(
                _gram_text(pl.col("prompt"), pl.col("kind"), pl.col("pos"), cfg.n, cfg.cjk_chars).alias("ngram"),
                _gram_text(pl.col("eval_text"), pl.col("kind"), pl.col("eval_pos"), cfg.n, cfg.cjk_chars).alias("_eval_ngram"),
            )
            .filter(pl.col("ngram") == pl.col("_eval_ngram"))  # confirm: no hash collisions
            .sort("doc", "pos")
            .group_by("doc", maintain_order=True)
            .first()
            .select("doc", "eval_id", "ngram", "kind")
        )
        frame = records.with_row_index("doc").join(matches, on="doc", how="left", maintain_order="left")
        unit = pl.when(pl.col("kind") == "w").then(pl.lit(f"{cfg.n}-word")).otherwise(pl.lit(f"{cfg.cjk_chars}-character"))
        result = self.split(
            frame,
            pl.col("eval_id").is_not_null(),
            reason="eval_contamination",
            field="messages",
            detail=pl.format("shares a {} n-gram with eval item {}: \"{}\"", unit, pl.col("eval_id"), pl.col("ngram")),
        )
        result.kept = result.kept.drop("doc", "eval_id", "ngram", "kind")
        hit = frame.filter(pl.col("eval_id").is_not_null())
        result.stats = {
            **self._eval_stats,
            "matches": hit.select("id", "eval_id", "ngram").head(_MATCH_CAP).to_dicts(),
        }
        return result
