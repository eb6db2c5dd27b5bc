"""``distill``: a teacher writes the assistant turn for each prompt.

The prompt is ``messages`` without its final assistant turn: a record that ends with an
answer gets it replaced, a record that ends with a user (or tool) turn gets one added.
Rejected, with the reason: records with no user turn to answer (``no_prompt``), failed
requests (``generation_error``, the engine's message as detail), answers cut at
``max_new_tokens`` unless ``keep_truncated`` (``truncated``), empty answers
(``empty_generation``).
"""

from __future__ import annotations

from typing import Any, Literal

import polars as pl
from pydantic import Field

from ..engines.base import Engine, GenerationParams
from ..progress import StepProgress, generate_chunked
from ..prompts import with_turn
from .common import (
    StepConfig, StepResult, add_lineage, engine_lineage, failure_reason, finish, generation_lineage,
    rejected_rows, requests_of, sample_seed, single, with_prompts,
)

NAME = "distill"


class DistillConfig(StepConfig):
    """Options of the distill step."""

    step: Literal["distill"] = "distill"
    generation: GenerationParams = Field(
        default_factory=lambda: GenerationParams(max_new_tokens=512),
        description="sampling parameters of the teacher (n is always 1)",
    )
    system_prompt: str | None = Field(
        None, description="system turn sent to the teacher before the prompt; not stored in the record"
    )
    keep_truncated: bool = Field(False, description="keep answers cut at max_new_tokens (marked in meta)")


def distill(records: pl.DataFrame, engine: Engine, config: DistillConfig | dict[str, Any] | None = None,
            *, progress: bool = True) -> StepResult:
    """Teacher answers for ``records`` (see module docstring)."""
    cfg = config if isinstance(config, DistillConfig) else DistillConfig.model_validate(config or {})
    params = single(cfg.generation)
    frame = with_prompts(records)
    askable = frame.filter(pl.col("_askable"))
    no_prompt = frame.filter(~pl.col("_askable"))
    sent = askable
    if cfg.system_prompt is not None:
        system = pl.lit([{"role": "system", "content": cfg.system_prompt}], dtype=sent["_prompt"].dtype)
        sent = sent.with_columns(pl.concat_list(system, pl.col("_prompt")).alias("_sent"))
    else:
        sent = sent.with_columns(pl.col("_prompt").alias("_sent"))
    requests = requests_of(sent, "_sent")
    with StepProgress(NAME, len(requests), enabled=progress) as bar:
        outputs = generate_chunked(engine, requests, params, bar, cfg.chunk_size)
    samples = [s[0] for s in outputs]
    failures = [failure_reason(g, not cfg.keep_truncated) for g in samples]
    good = [i for i, f in enumerate(failures) if f is None]
    bad = [i for i, f in enumerate(failures) if f is not None]

    base = engine_lineage(NAME, engine, params)
    chosen = askable[good]
    entries = [{**base, "seed": sample_seed(requests[i], params, 0), "sample": 0,
                **generation_lineage(samples[i])} for i in good]
    kept = chosen.with_columns(
        with_turn(chosen["_prompt"].alias("messages"), "assistant",
                  [samples[i].text for i in good], [samples[i].tool_calls for i in good]),
        add_lineage(chosen["meta"].to_list(), entries),
    )
    rejected = [
        rejected_rows(no_prompt, NAME, ["no_prompt"] * no_prompt.height,
                      ["the record has no user turn with text"] * no_prompt.height),
        rejected_rows(askable[bad], NAME, [failures[i][0] for i in bad], [failures[i][1] for i in bad]),  # type: ignore[index]
    ]
    stats = {"generation": bar.stats(), "engine": engine.fingerprint(),
             "truncated_kept": sum(samples[i].finish_reason == "length" for i in good)}
    return finish(NAME, records.height, kept, rejected, stats)
