"""Training data: read canonical records, refuse what a stage cannot train on, measure.

Why a separate step before any model loads: a preference stage given SFT data, a record
with nothing to learn or a sequence far over ``max_length`` otherwise surfaces minutes
later as a KeyError deep inside a trainer, or never (TRL silently truncates and drops).
Every refusal here is one line naming the file, the row (1-based, like the formats'
rejections: the Parquet row, the JSON Lines line when the file has no blank lines), the
record id and the problem, plus how many records share it. (Rows the reader cannot turn
into records are refused by the reader itself, with their line and field.)

Checks are polars expressions over the canonical columns; only rendering and
tokenizing (needed to count tokens the way the trainer will) go through the tokenizer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import polars as pl

from dataforge import chat_template as ct
from dataforge.chat_template.checks import parse_tools as parse_tools_text
from dataforge.errors import UserError
from dataforge.formats.api import read

from .config import ONLINE_STAGES, PREFERENCE_STAGES

_ROLE = pl.element().struct.field("role")


class DataError(UserError, ValueError):
    """Training data a stage cannot use; the message names file, row, id and problem."""


@dataclass
class DataReport:
    """What the data step did, for ``summary.json``."""

    files: list[str]
    records: int
    used: int = 0
    held_out: int = 0
    unpaired: int = 0
    over_max_length: int = 0
    overflow: str = "error"
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (0, [], None) or k in ("records", "used")}


# -- reading ---------------------------------------------------------------------------------


def read_records(paths: Sequence[Path]) -> pl.DataFrame:
    """Canonical records of every file (any format ``dataforge`` reads; a row that does not
    convert is refused with its location), with ``_file`` and ``_row`` for messages."""
    if not paths:
        raise DataError("no training data given")
    frames = []
    for path in paths:
        df = read(path, strict=True)
        frames.append(df.with_columns(pl.lit(str(path)).alias("_file"), pl.int_range(1, pl.len() + 1).alias("_row")))
    records = pl.concat(frames, how="vertical")
    if records.height == 0:
        raise DataError(f"{', '.join(map(str, paths))}: no records")
    return records


def refuse(bad: pl.DataFrame, problem: str, total: int, hint: str = "", error: type[DataError] | None = None) -> DataError:
    """One line: the first bad record's file, row and id, the problem and the count."""
    first = bad.row(0, named=True)
    count = f"{bad.height} of {total} records" if bad.height > 1 else f"1 of {total} records"
    tail = f"; {hint}" if hint else ""
    return (error or DataError)(f"{first['_file']}: row {first['_row']} (id {first['id']!r}): {problem} ({count}){tail}")


def _check(records: pl.DataFrame, bad: pl.Expr, problem: str, hint: str = "") -> None:
    rows = records.filter(bad)
    if rows.height:
        raise refuse(rows, problem, records.height, hint)


def _has_assistant(column: str) -> pl.Expr:
    return pl.col(column).list.eval(_ROLE == "assistant").list.any().fill_null(False)


_PAIR = pl.col("chosen").is_not_null() & pl.col("rejected").is_not_null()
_ANY_PAIR = pl.col("chosen").is_not_null() | pl.col("rejected").is_not_null()


def check_stage(stage: str, records: pl.DataFrame) -> pl.DataFrame:
    """Refuse records ``stage`` cannot train on; return the records it trains on (KTO
    unpairs chosen/rejected pairs into one desirable and one undesirable record)."""
    if stage == "sft":
        _check(records, _ANY_PAIR, "is a preference record (chosen/rejected), not SFT data",
               "train pairs with dpo, orpo or rm")
        _check(records, pl.col("label").is_not_null(), "is a KTO record (label), not SFT data", "train it with kto")
        _check(records, ~_has_assistant("messages"), "has no assistant turn: nothing to learn")
        return records
    if stage in PREFERENCE_STAGES:
        _check(records, pl.col("label").is_not_null() & ~_ANY_PAIR,
               f"is unpaired KTO feedback (label), but {stage} trains on chosen/rejected pairs", "use kto")
        _check(records, ~_PAIR, f"has no chosen/rejected pair: {stage} trains on preference pairs",
               "this looks like SFT data; use sft")
        _check(records, ~_has_assistant("chosen") | ~_has_assistant("rejected"),
               "chosen or rejected has no assistant turn")
        return records
    if stage == "kto":
        _check(records, pl.col("label").is_null() & ~_PAIR,
               "has neither label nor chosen/rejected: kto trains on labelled feedback", "this looks like SFT data")
        labelled = records.filter(pl.col("label").is_not_null())
        _check(labelled, ~_has_assistant("messages"), "has a label but no assistant turn to judge")
        return pl.concat([labelled, _unpair(records.filter(pl.col("label").is_null()))], how="vertical")
    if stage in ONLINE_STAGES:
        _check(records, ~pl.col("messages").list.eval(_ROLE == "user").list.any().fill_null(False),
               "has no user turn to prompt with")
        return records
    raise ValueError(f"unknown stage {stage!r}")


def _unpair(pairs: pl.DataFrame) -> pl.DataFrame:
    """Each chosen/rejected pair -> prompt+chosen (label true) and prompt+rejected (false)."""
    if pairs.height == 0:
        return pairs
    def side(column: str, label: bool) -> pl.DataFrame:
        return pairs.with_columns(
            pl.concat_list("messages", column).alias("messages"), pl.lit(label).alias("label"),
            pl.lit(None, dtype=pairs.schema["chosen"]).alias("chosen"),
            pl.lit(None, dtype=pairs.schema["rejected"]).alias("rejected"),
            (pl.col("id") + f"#{column}").alias("id"),
        )

    return pl.concat([side("chosen", True), side("rejected", False)], how="vertical")


# -- prompts and references for the sampling stages ------------------------------------------------


def split_prompts(records: pl.DataFrame) -> pl.DataFrame:
    """Prompt (the messages before a final assistant turn) and reference (that turn's text).

    The same convention as evalkit's eval items: a conversation ending on an assistant
    turn carries its reference answer there; one ending on a user turn has none.
    """
    msgs = pl.col("messages")
    last = msgs.list.last()
    has_ref = last.struct.field("role") == "assistant"
    return records.with_columns(
        pl.when(has_ref).then(msgs.list.slice(0, msgs.list.len() - 1)).otherwise(msgs).alias("messages"),
        pl.when(has_ref).then(last.struct.field("content")).otherwise(pl.lit(None, pl.String)).alias("reference"),
    )


def check_references(records: pl.DataFrame, verifiers: Sequence[str]) -> None:
    """Verifiers that compare with a reference need one in every record."""
    if verifiers:
        _check(records, pl.col("reference").is_null(),
               f"has no reference answer (a final assistant turn), which verifier {verifiers[0]!r} compares with")


# -- held-out split --------------------------------------------------------------------------


def hold_out(records: pl.DataFrame, fraction: float, seed: int) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """A seeded random ``fraction`` of the records as an evaluation split (at least one)."""
    if fraction <= 0:
        return records, None
    n_eval = max(1, round(records.height * fraction))
    if n_eval >= records.height:
        raise DataError(f"eval_fraction {fraction} of {records.height} records leaves nothing to train on")
    shuffled = records.sample(fraction=1.0, shuffle=True, seed=seed)
    return shuffled.slice(n_eval), shuffled.head(n_eval)


# -- conversations and lengths -----------------------------------------------------------------


def parse_tools(records: pl.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """``tools`` JSON text -> parsed list, once per distinct value (``template.lint``'s
    parser); a value that is not a JSON array of function schemas is refused."""
    out: dict[str, list[dict[str, Any]]] = {}
    for text in records["tools"].drop_nulls().unique().to_list():
        parsed = parse_tools_text(text)
        if parsed is None:
            raise refuse(records.filter(pl.col("tools") == text), "tools is not a JSON array of function schemas",
                         records.height)
        out[text] = parsed
    return out


def conversations(records: pl.DataFrame, column: str = "messages", prefix: str | None = None) -> list[ct.Conversation]:
    """Records -> the message dicts chat templates read (``prefix`` column first, e.g.
    the prompt before ``chosen``); a tool call with invalid JSON arguments is refused."""
    rows = records.select("id", "_file", "_row", *([prefix] if prefix else []), column).to_dicts()
    out = []
    for i, row in enumerate(rows):
        turns = (row[prefix] or []) + (row[column] or []) if prefix else row[column]
        try:
            out.append(ct.to_hf_conversation(turns))
        except ValueError as exc:
            raise refuse(records.slice(i, 1), str(exc), records.height) from None
    return out


def tools_per_record(records: pl.DataFrame) -> list[list[dict[str, Any]] | None]:
    """Each record's parsed ``tools`` (one parse per distinct value), or None."""
    parsed = parse_tools(records)
    return [parsed[t] if t is not None else None for t in records["tools"].to_list()]


def tool_groups(records: pl.DataFrame, batch_size: int = 256) -> list[list[int]]:
    """Row positions in batches that share one ``tools`` value (templates take one tool
    list per call), at most ``batch_size`` each."""
    groups: dict[str | None, list[int]] = {}
    for i, key in enumerate(records["tools"].to_list()):
        groups.setdefault(key, []).append(i)
    return [idx[s : s + batch_size] for idx in groups.values() for s in range(0, len(idx), batch_size)]


def render_all(
    tokenizer: Any, template: str | None, records: pl.DataFrame, convs: Sequence[ct.Conversation],
    *, add_generation_prompt: bool = False,
) -> list[str]:
    """Every conversation rendered as the trainer will (with its record's tools), in
    batches; the first one the template cannot render is refused with the template's error."""
    tools = tools_per_record(records)
    texts: list[str] = [""] * len(convs)
    for batch in tool_groups(records):
        out = ct.render(tokenizer, [convs[i] for i in batch], template=template, tools=tools[batch[0]],
                        add_generation_prompt=add_generation_prompt)
        bad = [(i, err) for i, err in zip(batch, out.errors) if err is not None]
        if bad:
            raise refuse(records[[i for i, _ in bad]], f"the chat template cannot render it ({bad[0][1]})",
                         records.height)
        for i, text in zip(batch, out.texts):
            texts[i] = text or ""
    return texts


def token_lengths(
    tokenizer: Any, template: str | None, records: pl.DataFrame, convs: Sequence[ct.Conversation],
    *, add_generation_prompt: bool = False,
) -> np.ndarray:
    """Tokens of each rendered conversation (see :func:`render_all`)."""
    texts = render_all(tokenizer, template, records, convs, add_generation_prompt=add_generation_prompt)
    return np.array([len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]], dtype=np.int64)


def apply_overflow(
    records: pl.DataFrame, lengths: np.ndarray, limit: int, overflow: str, report: DataReport, what: str = "max_length",
) -> pl.DataFrame:
    """Records over ``limit`` tokens: refuse (``error``), keep for truncation, or drop.

    The count and the policy go into the report, so the summary says what happened.
    """
    over = lengths > limit
    n_over = int(over.sum())
    report.over_max_length, report.overflow = n_over, overflow
    if not n_over:
        return records
    if overflow == "error":
        rows = records.with_columns(pl.Series("_tokens", lengths)).filter(pl.Series(over))
        first = rows.row(0, named=True)
        options = "set overflow=truncate to train on their first tokens, or overflow=drop to skip them" \
            if what == "max_length" else "set overflow=drop to skip them, or raise " + what
        raise refuse(rows, f"{first['_tokens']} tokens > {what} {limit}", records.height, options)
    if overflow == "drop":
        report.notes.append(f"{n_over} records over {what} {limit} were skipped")
        return records.filter(pl.Series(~over))
    report.notes.append(f"{n_over} records over {what} {limit} are truncated to {limit} tokens")
    return records
