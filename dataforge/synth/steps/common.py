"""What every synthesis step shares: the result shape, the base config, reading prompts
out of records, lineage in ``meta``, and the row invariant.

A step is a function ``step(records, engine, config) -> StepResult`` over canonical
polars frames. Like an operator it returns kept + rejected + stats, and rows in = kept +
rejected, always (checked here); extra outputs (best-of-K's DPO and KTO sets) ride in
``outputs``. Rejected rows go to the standard rejected table with stage ``synth.<step>``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import polars as pl
from pydantic import Field

from ...config import Config
from ...schemas.record import COLUMNS, conform
from ...schemas.rejected import empty_rejected, reject_records
from ..engines.base import Engine, Generation, GenerationParams, GenerationRequest, request_seed
from ..prompts import answer_text, has_user_turn, prompt_messages, prompt_text
from ..scorers import EngineSpec


@dataclass
class StepResult:
    """Kept records, rejected rows (with reasons), stats, and any extra outputs."""

    kept: pl.DataFrame
    rejected: pl.DataFrame
    stats: dict[str, Any]
    outputs: dict[str, pl.DataFrame] = field(default_factory=dict)


class StepConfig(Config):
    """Options every step has."""

    engine: EngineSpec | None = Field(None, description="engine of this step; default the synth section's engine")
    chunk_size: int = Field(
        64, ge=1, description="prompts per engine call: the progress bar and the cache advance per chunk"
    )


def step_stage(step: str) -> str:
    """The ``stage`` column value of a step's rejected rows."""
    return f"synth.{step}"


def with_prompts(records: pl.DataFrame) -> pl.DataFrame:
    """``records`` plus ``_prompt`` (messages to send), ``_answer`` (final assistant text),
    ``_question`` (readable prompt) and ``_askable`` (the prompt has a user turn)."""
    return records.with_columns(
        prompt_messages().alias("_prompt"),
        answer_text().alias("_answer"),
    ).with_columns(
        prompt_text(pl.col("_prompt")).alias("_question"),
        has_user_turn(pl.col("_prompt")).fill_null(False).alias("_askable"),
    )


def requests_of(frame: pl.DataFrame, column: str = "_prompt") -> list[GenerationRequest]:
    """One generation request per row of ``frame`` (messages in ``column``)."""
    return [
        GenerationRequest.from_messages(m, tools=t, id=i)
        for i, m, t in zip(frame["id"].to_list(), frame[column].to_list(), frame["tools"].to_list())
    ]


def sample_seed(request: GenerationRequest, params: GenerationParams, sample: int) -> int:
    """The seed sample ``sample`` was drawn with (the base seed when decoding greedily)."""
    return params.seed if params.greedy else request_seed(request, params.seed, sample)


def engine_lineage(step: str, engine: Engine, params: GenerationParams) -> dict[str, Any]:
    """The part of a lineage entry that is the same for every record of a step."""
    return {"step": step, "engine": engine.fingerprint(), "model": engine.model, "params": params.to_dict()}


def generation_lineage(generation: Generation) -> dict[str, Any]:
    return {"finish_reason": generation.finish_reason, "completion_tokens": generation.completion_tokens}


def add_lineage(meta: Sequence[str | None], entries: Sequence[dict[str, Any]]) -> pl.Series:
    """``meta`` JSON texts with ``entries`` appended to their ``synth`` list.

    A record that goes through several steps (augment, distill, judge filter) keeps one
    entry per step, in order. Meta that is not a JSON object is kept under ``meta``.
    """
    out = []
    for text, entry in zip(meta, entries):
        parsed = json.loads(text) if text else {}
        data = parsed if isinstance(parsed, dict) else {"meta": parsed}
        data["synth"] = [*data.get("synth", []), entry]
        out.append(json.dumps(data, ensure_ascii=False, sort_keys=True))
    return pl.Series("meta", out, dtype=pl.String)


def rejected_rows(frame: pl.DataFrame, step: str, reasons: Sequence[str], details: Sequence[str | None]
                  ) -> pl.DataFrame:
    """Rows of ``frame`` as rejected rows of ``step`` with a reason and detail each."""
    if frame.height == 0:
        return empty_rejected()
    marked = frame.with_columns(pl.Series("_reason", list(reasons), dtype=pl.String),
                                pl.Series("_detail", list(details), dtype=pl.String))
    return reject_records(marked, stage=step_stage(step), reason=pl.col("_reason"), detail=pl.col("_detail"))


def canonical(frame: pl.DataFrame) -> pl.DataFrame:
    """Only the canonical columns, in order (drops the helper ``_`` columns)."""
    return conform(frame.select([c for c in frame.columns if c in COLUMNS]))


def score_counts(scores: list[float], width: float) -> dict[str, int]:
    """How many scores fall in each bin of ``width`` (keyed by the bin's lower edge): the
    score histogram of a step, small enough for its stats (and the run report)."""
    counts: dict[str, int] = {}
    for edge in sorted(math.floor(s / width + 1e-9) * width for s in scores):
        key = f"{edge:g}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def finish(step: str, rows_in: int, kept: pl.DataFrame, rejected: list[pl.DataFrame],
           stats: dict[str, Any], outputs: dict[str, pl.DataFrame] | None = None) -> StepResult:
    """Assemble a :class:`StepResult`, enforcing rows in = kept + rejected."""
    frames = [r for r in rejected if r.height]
    rejected_all = pl.concat(frames, how="vertical") if frames else empty_rejected()
    if rows_in != kept.height + rejected_all.height:
        raise AssertionError(f"step {step} broke the row invariant: {rows_in} in, {kept.height} kept, "
                             f"{rejected_all.height} rejected")
    reasons = rejected_all.group_by("reason").len().sort("reason").rows() if rejected_all.height else []
    head = {"step": step, "rows_in": rows_in, "rows_kept": kept.height, "rows_rejected": rejected_all.height,
            "reasons": {r: int(c) for r, c in reasons}}
    return StepResult(canonical(kept), rejected_all, {**head, **stats}, outputs or {})


def failure_reason(generation: Generation, reject_truncated: bool) -> tuple[str, str | None] | None:
    """Why a sample cannot be used (reason code, detail), or None when it can."""
    if generation.finish_reason == "error":
        return "generation_error", generation.error
    if generation.finish_reason == "length" and reject_truncated:
        return "truncated", f"stopped at max_new_tokens after {generation.completion_tokens} tokens"
    if not generation.text.strip() and not generation.tool_calls:
        return "empty_generation", None
    return None


def completion_for_scoring(generation: Generation) -> str:
    """The text verifiers and judges read: the text, or the structured tool calls as JSON
    (what the ``tool_call`` verifier parses) when the server returned them apart."""
    if not generation.tool_calls:
        return generation.text
    calls = [{"name": c["name"], "arguments": c["arguments"]} for c in generation.tool_calls]
    payload = json.dumps({"tool_calls": calls}, ensure_ascii=False)
    return f"{generation.text}\n{payload}" if generation.text.strip() else payload


def single(params: GenerationParams) -> GenerationParams:
    """``params`` with one sample per prompt."""
    return dataclasses.replace(params, n=1)
