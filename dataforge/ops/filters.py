"""Record filters: each rejects records that would train badly and says which turn and why.

Ops (one registered op each): ``filter.length``, ``filter.empty_turns``,
``filter.role_order``, ``filter.repetition``, ``filter.language``, ``filter.placeholders``.

Every rejection carries a stable reason code, the offending field when there is one
(``messages[2].content``, 0-based like the readers' field paths) and a detail with the
measured value, naming turns 1-based as people count them ("assistant turn 3 has 5120
tokens > 4096"). A record failing several checks of one filter is rejected for the
first failing turn. Turns of ``chosen``/``rejected`` are named with their list
("chosen assistant turn 1"). Checks run on all turns of a shard at once: messages are
exploded into one flat frame (:func:`explode_turns`) and measured column-wise.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import polars as pl
from pydantic import Field, field_validator, model_validator

from .. import chat_template, models
from ..formats.messages import letters
from ..formats.readers.validate import SFT_ORDER
from ..schemas.exprs import MESSAGE_LISTS, prompt_text, record_text
from ..text import script_counts, shingle_hashes, strip_code
from .base import Operator, OpConfig, OpResult, register_op

Role = Literal["system", "user", "assistant", "tool"]
ListName = Literal["messages", "chosen", "rejected"]
ALL_ROLES: list[Role] = ["system", "user", "assistant", "tool"]

_BLANK = r"^[\s\x{200B}\x{2060}\x{FEFF}]*$"  # whitespace and zero-width characters only


# -- shared machinery ---------------------------------------------------------------------------


def explode_turns(records: pl.DataFrame, columns: tuple[str, ...] | list[str] = MESSAGE_LISTS) -> pl.DataFrame:
    """One row per message of the given lists, in record order.

    Columns: ``row`` (index of the record), ``list`` (messages/chosen/rejected), ``turn``
    (0-based within its list), ``role``, ``content`` (may be null) and ``has_calls``
    (the message carries tool calls).
    """
    frames = []
    for column in columns:
        lists = records.get_column(column)
        lens = lists.list.len().fill_null(0).to_numpy().astype(np.int64)
        msgs = lists.explode(empty_as_null=False, keep_nulls=False)
        n = int(lens.sum())
        starts = np.cumsum(lens) - lens
        frames.append(
            pl.DataFrame(
                {
                    "row": np.repeat(np.arange(records.height, dtype=np.int64), lens),
                    "list": pl.repeat(column, n, dtype=pl.String, eager=True),
                    "turn": np.arange(n, dtype=np.int64) - np.repeat(starts, lens),
                    "role": msgs.struct.field("role"),
                    "content": msgs.struct.field("content"),
                    "has_calls": msgs.struct.field("tool_calls").list.len().fill_null(0) > 0,
                }
            )
        )
    return pl.concat(frames)


def _turn_label() -> pl.Expr:
    """ "assistant turn 3", or "chosen assistant turn 1" outside ``messages``."""
    who = pl.format("{} turn {}", pl.col("role"), pl.col("turn") + 1)
    return pl.when(pl.col("list") == "messages").then(who).otherwise(pl.format("{} {}", pl.col("list"), who))


def _turn_field() -> pl.Expr:
    return pl.format("{}[{}].content", pl.col("list"), pl.col("turn"))


def _first_per_row(found: pl.DataFrame) -> pl.DataFrame:
    """Keep the first offending turn of each record (messages before chosen before rejected)."""
    order = pl.col("list").replace_strict(list(MESSAGE_LISTS), [0, 1, 2], default=3)
    return found.sort(pl.col("row"), order, pl.col("turn")).unique("row", keep="first", maintain_order=True)


def _reject(op: Operator, records: pl.DataFrame, found: pl.DataFrame, stats: dict[str, Any]) -> OpResult:
    """Split ``records`` by ``found`` (one row per offending record: row, reason, detail, field)."""
    marked = records.with_row_index("_row").join(
        found.select(
            pl.col("row").cast(pl.UInt32).alias("_row"),
            pl.col("reason").alias("_reason"),
            pl.col("detail").alias("_detail"),
            pl.col("field").cast(pl.String).alias("_field"),
        ),
        on="_row", how="left", maintain_order="left",
    )
    result = op.split(
        marked, pl.col("_reason").is_not_null(), reason=pl.col("_reason"),
        detail=pl.col("_detail"), field=pl.col("_field"), stats=stats,
    )
    result.kept = result.kept.select(records.columns)
    return result


_FOUND_SCHEMA = {"row": pl.Int64, "reason": pl.String, "detail": pl.String, "field": pl.String}


def _found(frame: pl.DataFrame, reason: str | pl.Expr, detail: pl.Expr, field: pl.Expr | None) -> pl.DataFrame:
    reason_expr = reason if isinstance(reason, pl.Expr) else pl.lit(reason)
    field_expr = field if field is not None else pl.lit(None, dtype=pl.String)
    return frame.select(
        pl.col("row"), reason_expr.alias("reason"), detail.alias("detail"), field_expr.alias("field"),
        *[c for c in ("list", "turn") if c in frame.columns],
    )


# -- filter.length --------------------------------------------------------------------------------


@register_op
class LengthFilter(Operator):
    """Reject records with a turn or a whole sequence outside length bounds (chars or tokens)."""

    name = "filter.length"

    class Config(OpConfig):
        unit: Literal["chars", "tokens"] = Field("chars", description="count characters, or tokens of `tokenizer`")
        tokenizer: str = Field(
            models.DEFAULT_CAUSAL_LM,
            description="model whose tokenizer counts tokens (alias, local folder or hub id); unit: tokens",
        )
        min_turn: int | None = Field(None, ge=0, description="fewest units a turn of `roles` may have")
        max_turn: int | None = Field(None, ge=1, description="most units a turn of `roles` may have")
        min_record: int | None = Field(None, ge=0, description="fewest units the record's longest sequence may have")
        max_record: int | None = Field(
            None, ge=1, description="most units a sequence (messages, or messages + chosen/rejected) may have"
        )
        roles: list[Role] = Field(ALL_ROLES, description="roles whose turns the per-turn bounds check")
        batch_size: int = Field(4096, ge=1, description="texts per tokenizer call")

        @model_validator(mode="after")
        def _some_bound(self) -> "LengthFilter.Config":
            if all(b is None for b in (self.min_turn, self.max_turn, self.min_record, self.max_record)):
                raise ValueError("set at least one of min_turn, max_turn, min_record, max_record")
            return self

    @classmethod
    def example_params(cls) -> dict[str, Any]:
        """Parameters for a generic run (the op needs at least one bound)."""
        return {"max_record": 4096}

    def __init__(self, config: Any = None, **params: Any) -> None:
        super().__init__(config, **params)
        self._tokenizer: Any = None

    def process(self, records: pl.DataFrame) -> OpResult:
        cfg = self.config
        turns = explode_turns(records)
        turns = turns.with_columns(size=pl.Series(self._measure(turns["content"]), dtype=pl.Int64))
        unit = cfg.unit
        sized = pl.col("size")
        in_roles = pl.col("role").is_in(cfg.roles)
        tool_call_only = pl.col("has_calls") & pl.col("content").fill_null("").eq("")
        found = []
        if cfg.max_turn is not None:
            found.append(_found(
                turns.filter(in_roles & (sized > cfg.max_turn)), "turn_too_long",
                pl.format("{} has {} {} > {}", _turn_label(), sized, pl.lit(unit), pl.lit(cfg.max_turn)),
                _turn_field(),
            ))
        if cfg.min_turn is not None:
            found.append(_found(
                turns.filter(in_roles & (sized < cfg.min_turn) & ~tool_call_only), "turn_too_short",
                pl.format("{} has {} {} < {}", _turn_label(), sized, pl.lit(unit), pl.lit(cfg.min_turn)),
                _turn_field(),
            ))
        seqs = self._sequences(records, turns)
        for bound, reason, op, cmp in (
            (cfg.max_record, "record_too_long", ">", sized.gt),
            (cfg.min_record, "record_too_short", "<", sized.lt),
        ):
            if bound is not None:
                found.append(_found(
                    seqs.filter(cmp(bound)), reason,
                    pl.format("{} has {} {} {} {}", pl.col("seq"), sized, pl.lit(unit), pl.lit(op), pl.lit(bound)),
                    None,
                ).with_columns(list=pl.lit("~"), turn=pl.lit(0, pl.Int64)))
        first = (
            _first_per_row(pl.concat(found, how="diagonal_relaxed")) if found else pl.DataFrame(schema=_FOUND_SCHEMA)
        )
        stats = {f"record_{unit}_max": int(seqs["size"].max() or 0), f"record_{unit}_min": seqs["size"].min()}
        return _reject(self, records, first, stats)

    @staticmethod
    def _sequences(records: pl.DataFrame, turns: pl.DataFrame) -> pl.DataFrame:
        """Per record, its longest training sequence: messages, or messages + chosen/rejected."""
        per_list = turns.group_by("row").agg(
            pl.col("size").filter(pl.col("list") == name).sum().alias(name) for name in MESSAGE_LISTS
        )
        base = records.select(
            pl.int_range(pl.len(), dtype=pl.Int64).alias("row"),
            (pl.col("chosen").is_not_null() | pl.col("rejected").is_not_null()).alias("pref"),
        )
        t = base.join(per_list, on="row", how="left").with_columns(
            pl.col(name).fill_null(0) for name in MESSAGE_LISTS
        )
        chosen_longer = pl.col("chosen") >= pl.col("rejected")
        return t.select(
            "row",
            (pl.col("messages") + pl.max_horizontal("chosen", "rejected")).alias("size"),
            pl.when(~pl.col("pref")).then(pl.lit("messages"))
            .when(chosen_longer).then(pl.lit("messages + chosen"))
            .otherwise(pl.lit("messages + rejected")).alias("seq"),
        )

    def _measure(self, contents: pl.Series) -> np.ndarray:
        texts = contents.fill_null("")
        if self.config.unit == "chars":
            return texts.str.len_chars().to_numpy().astype(np.int64)
        if self._tokenizer is None:  # once per op; the loader caches per process (fast tokenizers batch in Rust)
            self._tokenizer = chat_template.load_tokenizer(self.config.tokenizer)
        tokenizer = self._tokenizer
        out = np.zeros(len(texts), np.int64)
        size = self.config.batch_size
        for lo in range(0, len(texts), size):
            ids = tokenizer(
                texts.slice(lo, size).to_list(), add_special_tokens=False,
                return_attention_mask=False, verbose=False,
            )["input_ids"]
            out[lo : lo + len(ids)] = np.fromiter(map(len, ids), np.int64, len(ids))
        return out


# -- filter.empty_turns ---------------------------------------------------------------------------


@register_op
class EmptyTurnsFilter(Operator):
    """Reject records with an empty or whitespace-only turn (a tool-call-only assistant turn is fine)."""

    name = "filter.empty_turns"

    class Config(OpConfig):
        roles: list[Role] = Field(ALL_ROLES, description="roles whose turns must have text")

    def process(self, records: pl.DataFrame) -> OpResult:
        turns = explode_turns(records)
        content = pl.col("content")
        blank = content.is_null() | content.str.contains(_BLANK)
        tool_call_only = (pl.col("role") == "assistant") & pl.col("has_calls")
        bad_turns = turns.filter(pl.col("role").is_in(self.config.roles) & blank & ~tool_call_only)
        how = (
            pl.when(content.is_null()).then(pl.lit("has no content"))
            .when(content == "").then(pl.lit("is empty"))
            .otherwise(pl.lit("is whitespace-only"))
        )
        rows = records.select(
            pl.int_range(pl.len(), dtype=pl.Int64).alias("row"),
            *[pl.col(c).list.len().alias(c) for c in MESSAGE_LISTS],
        )
        no_messages = rows.filter(pl.col("messages").fill_null(0) == 0)
        empty_lists = [
            _found(rows.filter(pl.col(c) == 0), "empty_turn", pl.lit(f"{c} has no turns"), pl.lit(c))
            .with_columns(list=pl.lit(c), turn=pl.lit(-1, pl.Int64))
            for c in ("chosen", "rejected")
        ]
        found = pl.concat(
            [
                _found(no_messages, "no_messages", pl.lit("record has no messages"), pl.lit("messages"))
                .with_columns(list=pl.lit("messages"), turn=pl.lit(-1, pl.Int64)),
                _found(bad_turns, "empty_turn", pl.format("{} {}", _turn_label(), how), _turn_field()),
                *empty_lists,
            ],
            how="diagonal_relaxed",
        )
        return _reject(self, records, _first_per_row(found), {"empty_turns": bad_turns.height})


# -- filter.role_order ----------------------------------------------------------------------------

#: Role letters (``formats.messages.letters``): s system, u user, a assistant, c assistant
#: turn with tool calls, t tool, ? unknown.
#: A complete conversation: optional system, then user turns each answered by the
#: assistant, where an answer may first go through tool-call rounds (c, then t...); the
#: last answer may be a tool call itself (function-calling data whose target is the call).
_COMPLETE = SFT_ORDER  # the readers' grammar (formats.validate): s?u((ct+)*au)*(ct+)*[ac]
#: The same, but it may stop anywhere after a user turn or tool result (prompt-only data).
_OPEN = r"^s?(?:u(?:ct+)*a)*(?:u(?:ct+)*c?)?$"
_DIAGNOSES: list[tuple[str, str]] = [
    (r"[^suact]", "unknown role"),
    (r".s", "system turn not first"),
    (r"^s?$", "no user turn"),
    (r"^s?[^u]", "does not start with a user turn"),
    (r"uu", "two user turns in a row"),
    (r"(?:^|[^ct])t", "tool result without a tool call before it"),
    (r"a[ac]", "two assistant turns in a row"),
    (r"c[^t]", "tool call without a tool result"),
    (r"tu", "user turn before the assistant answered the tool results"),
    (r"[^ac]$", "does not end with an assistant turn"),
]


def _diagnose(seq: pl.Expr) -> pl.Expr:
    out = pl.lit("roles out of order")
    for pattern, problem in reversed(_DIAGNOSES):
        out = pl.when(seq.str.contains(pattern)).then(pl.lit(problem)).otherwise(out)
    return out


@register_op
class RoleOrderFilter(Operator):
    """Reject records whose roles are out of order (role letters per record, one regex)."""

    name = "filter.role_order"

    class Config(OpConfig):
        require_final_assistant: bool = Field(
            True,
            description="conversations must end with an assistant turn (false for prompt-only data; "
            "messages + chosen/rejected of preference records must always)",
        )

    def process(self, records: pl.DataFrame) -> OpResult:
        grammar = _COMPLETE if self.config.require_final_assistant else _OPEN
        m, c, r = letters("messages"), letters("chosen"), letters("rejected")
        pref = pl.col("chosen").is_not_null() | pl.col("rejected").is_not_null()
        seqs = records.select(
            pl.int_range(pl.len(), dtype=pl.Int64).alias("row"),
            pl.when(pref).then(pl.concat_str([m, c])).otherwise(m).alias("s1"),
            pl.when(pref).then(pl.concat_str([m, r])).alias("s2"),
            pref.alias("pref"),
        )
        s1_ok = (
            pl.when(pl.col("pref"))
            .then(pl.col("s1").str.contains(_COMPLETE))
            .otherwise(pl.col("s1").str.contains(grammar))
        )
        s2_ok = pl.col("s2").str.contains(_COMPLETE)
        bad = seqs.with_columns(
            pl.when(~s1_ok.fill_null(False)).then(pl.col("s1"))
            .when(pl.col("pref") & ~s2_ok.fill_null(False)).then(pl.col("s2")).alias("seq"),
            pl.when(~s1_ok.fill_null(False))
            .then(pl.when(pl.col("pref")).then(pl.lit("messages+chosen")).otherwise(pl.lit("messages")))
            .otherwise(pl.lit("messages+rejected")).alias("field"),
        ).filter(pl.col("seq").is_not_null())
        found = _found(
            bad, "role_order", pl.format("roles '{}': {}", pl.col("seq"), _diagnose(pl.col("seq"))),
            pl.col("field"),
        )
        return _reject(self, records, found, {})


# -- filter.repetition ----------------------------------------------------------------------------


@register_op
class RepetitionFilter(Operator):
    """Reject records with a turn that keeps repeating itself (share of repeated n-grams)."""

    name = "filter.repetition"

    class Config(OpConfig):
        max_ratio: float = Field(
            0.5, gt=0.0, lt=1.0,
            description="most share of a turn's n-grams that may repeat an earlier n-gram of that turn",
        )
        ngram_words: int = Field(10, ge=1, description="n-gram size in words (space-delimited text)")
        ngram_chars: int = Field(15, ge=1, description="n-gram size in characters (Chinese/Japanese text)")
        roles: list[Role] = Field(["assistant"], description="roles whose turns are checked")
        columns: list[ListName] = Field(
            ["messages", "chosen"],
            description="message lists checked (rejected answers are left alone: a repetitive rejected "
            "answer is a useful negative)",
        )

    def process(self, records: pl.DataFrame) -> OpResult:
        cfg = self.config
        turns = explode_turns(records, cfg.columns).filter(pl.col("role").is_in(cfg.roles))
        texts = turns.select(pl.col("content").fill_null("").str.to_lowercase()).to_series()
        shingles = shingle_hashes(texts, ngram_words=cfg.ngram_words, ngram_chars=cfg.ngram_chars)
        per_turn = (
            pl.DataFrame({"doc": shingles.doc, "h": shingles.hashes})
            .group_by("doc")
            .agg(pl.len().alias("total"), pl.col("h").n_unique().alias("distinct"))
            .with_columns((1.0 - pl.col("distinct") / pl.col("total")).alias("ratio"))
        )
        scored = (
            turns.with_columns(
                pl.int_range(pl.len(), dtype=pl.Int64).alias("doc"),
                pl.Series("char_mode", shingles.char_mode),
            )
            .join(per_turn, on="doc", how="left")
            .with_columns(pl.col("ratio").fill_null(0.0))
        )
        bad = scored.filter(pl.col("ratio") > cfg.max_ratio)
        n = pl.when(pl.col("char_mode")).then(pl.lit(cfg.ngram_chars)).otherwise(pl.lit(cfg.ngram_words))
        unit = pl.when(pl.col("char_mode")).then(pl.lit("character")).otherwise(pl.lit("word"))
        detail = pl.format(
            "{}: {}% of its {}-{} n-grams repeat (> {}%)", _turn_label(),
            (pl.col("ratio") * 100).round(1), n, unit, pl.lit(round(cfg.max_ratio * 100, 1)),
        )
        found = _found(bad, "repetition", detail, _turn_field())
        stats = {"ratio_max": float(scored["ratio"].max() or 0.0)}
        return _reject(self, records, _first_per_row(found), stats)


# -- filter.language ------------------------------------------------------------------------------

Lang = Literal["zh", "en"]


@register_op
class LanguageFilter(Operator):
    """Keep records whose script mix matches the wanted languages (Han for zh, Latin for en)."""

    name = "filter.language"

    class Config(OpConfig):
        lang: list[Lang] | Literal["any"] = Field(
            ["zh", "en"], description='wanted languages ("zh", "en", a list of them) or "any" (keep all, count only)'
        )
        min_ratio: float = Field(
            0.5, gt=0.0, le=1.0, description="least share of the text's letters/words a wanted language must have"
        )
        text: Literal["all", "prompt", "assistant"] = Field(
            "all", description="which text is measured: all turns, user turns of messages, or assistant turns"
        )
        ignore_code: bool = Field(True, description="skip fenced and inline code (its keywords are English)")

        @field_validator("lang", mode="before")
        @classmethod
        def _one_or_many(cls, value: Any) -> Any:
            return [value] if value in ("zh", "en") else value

    def process(self, records: pl.DataFrame) -> OpResult:
        cfg = self.config
        text = {"all": record_text(), "prompt": prompt_text(), "assistant": record_text(roles=["assistant"])}[cfg.text]
        if cfg.ignore_code:
            text = strip_code(text)
        counts = records.select(
            pl.int_range(pl.len(), dtype=pl.Int64).alias("row"), script_counts(text).alias("s")
        ).unnest("s")
        total = pl.col("han") + pl.col("kana") + pl.col("latin") + pl.col("other")
        shares = counts.with_columns(
            (pl.col(c) / total).fill_nan(0.0).alias(f"{c}_share") for c in ("han", "kana", "latin", "other")
        ).with_columns(total.alias("total"))
        dominant = shares.select(pl.concat_list("han", "kana", "latin", "other").list.arg_max())
        stats = {
            "no_letters": int((shares["total"] == 0).sum()),
            "dominant_script": {
                name: int(((dominant.to_series() == i) & (shares["total"] > 0)).sum())
                for i, name in enumerate(("han", "kana", "latin", "other"))
            },
        }
        if cfg.lang == "any":
            return _reject(self, records, pl.DataFrame(schema=_FOUND_SCHEMA), stats)
        share_of = {"zh": pl.col("han_share"), "en": pl.col("latin_share")}
        ok = pl.any_horizontal([share_of[lang] >= cfg.min_ratio for lang in cfg.lang]) | (pl.col("total") == 0)
        pct = {c: (pl.col(f"{c}_share") * 100).round(1) for c in ("han", "kana", "latin", "other")}
        detail = pl.format(
            "script shares han {}%, latin {}%, kana {}%, other {}% of {} letters/words; want {} >= {}%",
            pct["han"], pct["latin"], pct["kana"], pct["other"], pl.col("total"),
            pl.lit(" or ".join(cfg.lang)), pl.lit(round(cfg.min_ratio * 100, 1)),
        )
        found = _found(shares.filter(~ok), "language", detail, None)
        return _reject(self, records, found, stats)


# -- filter.placeholders --------------------------------------------------------------------------

#: Built-in placeholder patterns (Rust regex syntax, as polars uses), by name.
PLACEHOLDER_PATTERNS: dict[str, str] = {
    # {{name}}, {{ user.name }}, {{姓名}}: mustache / Jinja variables.
    "mustache": r"\{\{\s*[\p{L}_][\p{L}\p{N}_.\-]*\s*\}\}",
    # [Insert name], [Your Name], [enter date], [TODO], [placeholder: ...]
    "bracket_en": r"\[(?i:insert|enter|add|your|placeholder|todo|tbd|fill in)\b[^\]\n]{0,80}\]",
    # <YOUR_API_KEY>, <FIRST_NAME>, <PLACEHOLDER>, <NAME>
    "angle_caps": r"<(?:[A-Z][A-Z0-9]*_)+[A-Z0-9]+>|<(?:PLACEHOLDER|INSERT[^>\n]{0,60}|NAME|DATE|TODO)>",
    # 【插入公司名称】, [您的姓名], [请输入地址]
    "bracket_zh": r"[【\[](?:插入|填写|填入|输入|请输入|你的|您的|此处)[^】\]\n]{0,40}[】\]]",
    # {name}: Python str.format fields. Off by default: LaTeX (\frac{a}{b}) and code are full of them.
    "format_brace": r"\{[A-Za-z_][A-Za-z0-9_]*\}",
}
DEFAULT_PLACEHOLDERS = ["mustache", "bracket_en", "angle_caps", "bracket_zh"]
#: Markdown links and images: "[Your account](https://...)" is link text, not a placeholder.
_MARKDOWN_LINK = r"!?\[[^\]\n]*\]\([^)\n]*\)"


@register_op
class PlaceholderFilter(Operator):
    """Reject records with leftover template placeholders ({{name}}, [Insert name], <YOUR_KEY>)."""

    name = "filter.placeholders"

    class Config(OpConfig):
        patterns: list[str] = Field(
            DEFAULT_PLACEHOLDERS,
            description=f"built-in pattern names ({', '.join(PLACEHOLDER_PATTERNS)}) or regexes (Rust syntax)",
        )
        ignore_code: bool = Field(True, description="skip fenced/inline code, where braces are syntax")
        roles: list[Role] = Field(
            ["system", "user", "assistant"], description="roles checked (tool results are machine output)"
        )
        columns: list[ListName] = Field(["messages", "chosen"], description="message lists checked")

        @field_validator("patterns")
        @classmethod
        def _compiles(cls, patterns: list[str]) -> list[str]:
            for p in patterns:
                try:
                    pl.Series([""]).str.contains(PLACEHOLDER_PATTERNS.get(p, p))
                except pl.exceptions.ComputeError as exc:
                    raise ValueError(f"pattern {p!r} is not a valid regex: {exc}") from exc
            return patterns

    def process(self, records: pl.DataFrame) -> OpResult:
        cfg = self.config
        combined = "|".join(f"(?:{PLACEHOLDER_PATTERNS.get(p, p)})" for p in cfg.patterns)
        turns = explode_turns(records, cfg.columns).filter(pl.col("role").is_in(cfg.roles))
        text = pl.col("content").fill_null("").str.replace_all(_MARKDOWN_LINK, " ")
        if cfg.ignore_code:
            text = strip_code(text)
        hits = turns.with_columns(text.str.extract(f"({combined})", 1).alias("hit")).filter(
            pl.col("hit").is_not_null()
        )
        found = _found(
            hits, "placeholder", pl.format("{} has leftover placeholder '{}'", _turn_label(), pl.col("hit")),
            _turn_field(),
        )
        return _reject(self, records, _first_per_row(found), {"turns_with_placeholders": hits.height})
