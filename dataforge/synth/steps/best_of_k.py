"""``best_of_k``: K samples per prompt, scored, turned into SFT, DPO and KTO records.

For each prompt the engine draws ``k`` samples (``temperature`` > 0, each seeded by
``request_seed``); samples that failed, were cut at ``max_new_tokens`` (unless
``keep_truncated``) or are empty are set aside, and identical texts count once. The rest
are scored by the configured scorers (:mod:`dataforge.synth.scorers`: ``judge``,
``reward_model`` and every rule verifier, combined by weight into [0, 1]). Then:

* **SFT** (``kept``): the best sample replaces (or adds) the final assistant turn; ties
  go to the lower sample index. A prompt whose best score is under ``min_score``, or
  with no scored sample, is rejected with the reason (``below_threshold``,
  ``unscored``, ``generation_error``, ``truncated``, ``empty_generation``);
* **DPO** (``outputs["dpo"]``): ``pairs: best_vs_worst`` pairs the best with the worst
  sample; ``pairs: all`` pairs every two samples. A pair is written only when the score
  difference exceeds ``margin`` (so ties are always skipped);
* **KTO** (``outputs["kto"]``): every scored sample, labelled desirable when its score is
  at least ``kto_threshold``.

Every output record carries the lineage in ``meta.synth``: step, engine fingerprint,
model, params, each sample's seed and index, every scorer's score, the total and the
scorer signatures. Prompts are processed ``chunk_size`` at a time (generate, then score),
so a killed run resumes from the generation cache chunk by chunk.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any, Callable, Literal

import polars as pl
from pydantic import Field, model_validator

from ...schemas.record import POLARS_SCHEMA, empty_table
from ..engines.base import Engine, Generation, GenerationParams, GenerationRequest
from ..progress import StepProgress
from ..prompts import with_turn
from ..scorers import Combined, EngineSpec, Items, WeightedScorers
from .common import (
    StepConfig, StepResult, add_lineage, engine_lineage, failure_reason, finish, generation_lineage,
    completion_for_scoring, rejected_rows, requests_of, sample_seed, score_counts, with_prompts,
)

NAME = "best_of_k"


class BestOfKConfig(StepConfig):
    """Options of the best-of-K step."""

    step: Literal["best_of_k"] = "best_of_k"
    k: int = Field(4, ge=1, description="samples drawn per prompt")
    generation: GenerationParams = Field(
        default_factory=lambda: GenerationParams(max_new_tokens=512, temperature=0.8),
        description="sampling parameters (n is set to k)",
    )
    scorers: dict[str, float | dict[str, Any]] = Field(
        description="scorer name -> weight, or -> {weight, ...its options}; names: judge, reward_model, any verifier",
    )
    pairs: Literal["best_vs_worst", "all"] = Field("best_vs_worst", description="which DPO pairs to write")
    margin: float = Field(0.0, ge=0.0, description="a DPO pair needs chosen - rejected score above this")
    kto_threshold: float = Field(0.5, ge=0.0, le=1.0, description="KTO label: desirable when score >= this")
    min_score: float | None = Field(
        None, ge=0.0, le=1.0, description="reject a prompt whose best sample scores below this"
    )
    keep_truncated: bool = Field(False, description="score samples cut at max_new_tokens too")
    reference_key: str | None = Field(
        None, description="meta key holding the reference answer; default the record's final assistant turn"
    )

    @model_validator(mode="after")
    def _sampling(self) -> "BestOfKConfig":
        if self.k > 1 and self.generation.greedy:
            raise ValueError("k > 1 needs generation.temperature > 0 (greedy samples are all the same)")
        return self


@dataclass
class _Sample:
    index: int
    generation: Generation
    combined: Combined | None = None


def best_of_k(records: pl.DataFrame, engine: Engine, config: BestOfKConfig | dict[str, Any],
              *, engine_for: Callable[[EngineSpec | None], Engine] | None = None,
              progress: bool = True) -> StepResult:
    """SFT records (kept), plus ``outputs["dpo"]`` and ``outputs["kto"]`` (see module
    docstring). ``engine_for(spec)`` builds the engine a scorer asks for (a judge on
    another model); ``None`` lets every scorer use ``engine``."""
    cfg = config if isinstance(config, BestOfKConfig) else BestOfKConfig.model_validate(config)
    params = GenerationParams(**{**cfg.generation.to_dict(), "n": cfg.k})
    scorers = WeightedScorers(cfg.scorers, engine_for or (lambda spec: engine))
    try:
        return _run(records, engine, cfg, params, scorers, progress)
    finally:
        scorers.close()


def _run(records: pl.DataFrame, engine: Engine, cfg: BestOfKConfig, params: GenerationParams,
         scorers: WeightedScorers, progress: bool) -> StepResult:
    frame = with_prompts(records)
    if cfg.reference_key is not None:
        refs = [_meta_value(m, cfg.reference_key) for m in frame["meta"].to_list()]
        frame = frame.with_columns(pl.Series("_answer", refs, dtype=pl.String))
    askable = frame.filter(pl.col("_askable"))
    no_prompt = frame.filter(~pl.col("_askable"))
    requests = requests_of(askable)
    per_prompt: list[list[_Sample]] = []
    dropped: dict[str, int] = {}
    with StepProgress(NAME, len(requests), enabled=progress) as bar:
        for start in range(0, len(requests), cfg.chunk_size):
            chunk = slice(start, start + cfg.chunk_size)
            outputs = engine.generate(requests[chunk], params)
            per_prompt += _score_chunk(askable[chunk], outputs, cfg, scorers, dropped)
            bar.update(len(outputs), outputs)

    base = {**engine_lineage(NAME, engine, params), "scorers": scorers.signatures(),
            "weights": scorers.weights()}
    sft_rows, reasons, details, kept_idx, rejected_idx = [], [], [], [], []
    best_samples: list[_Sample] = []
    dpo: list[dict[str, Any]] = []
    kto: list[dict[str, Any]] = []
    for row, (samples, request) in enumerate(zip(per_prompt, requests)):
        scored = [s for s in samples if s.combined is not None and s.combined.total is not None]
        if not scored:
            reasons.append(_why_none(samples))
            details.append(_detail_none(samples))
            rejected_idx.append(row)
            continue
        best = max(scored, key=lambda s: (s.combined.total, -s.index))  # type: ignore[union-attr]
        if cfg.min_score is not None and best.combined.total < cfg.min_score:  # type: ignore[union-attr, operator]
            reasons.append("below_threshold")
            details.append(f"best score {best.combined.total:.3f} < min_score {cfg.min_score}"  # type: ignore[union-attr]
                           + _reasons_text(best))
            rejected_idx.append(row)
            continue
        kept_idx.append(row)
        best_samples.append(best)
        sft_rows.append(_entry(base, request, params, best))
        dpo += _pairs(row, scored, cfg, base, request, params)
        kto += [{"row": row, "sample": s, "label": s.combined.total >= cfg.kto_threshold,  # type: ignore[union-attr]
                 "entry": _entry(base, request, params, s)} for s in scored]

    kept_frame = askable[kept_idx]
    kept = _with_answer(kept_frame, best_samples).with_columns(add_lineage(kept_frame["meta"].to_list(), sft_rows))
    outputs = {"dpo": _dpo_frame(askable, dpo), "kto": _kto_frame(askable, kto)}
    rejected = [
        rejected_rows(no_prompt, NAME, ["no_prompt"] * no_prompt.height,
                      ["the record has no user turn with text"] * no_prompt.height),
        rejected_rows(askable[rejected_idx], NAME, reasons, details),
    ]
    stats = {"generation": bar.stats(), "engine": engine.fingerprint(), "samples_set_aside": dropped,
             "dpo_pairs": outputs["dpo"].height, "kto_records": outputs["kto"].height,
             "kto_desirable": int(outputs["kto"]["label"].sum()) if outputs["kto"].height else 0,
             "score_counts": score_counts([s.combined.total for samples in per_prompt for s in samples  # type: ignore[union-attr]
                                           if s.combined is not None and s.combined.total is not None], 0.1),
             "scorers": scorers.signatures()}
    return finish(NAME, records.height, kept, rejected, stats, outputs)


def _score_chunk(frame: pl.DataFrame, outputs: list[list[Generation]], cfg: BestOfKConfig,
                 scorers: WeightedScorers, dropped: dict[str, int]) -> list[list[_Sample]]:
    """Score the usable, distinct samples of one chunk in one call per scorer."""
    per_prompt: list[list[_Sample]] = []
    flat: list[tuple[int, _Sample]] = []
    for row, samples in enumerate(outputs):
        mine, seen = [], set()
        for j, g in enumerate(samples):
            sample = _Sample(j, g)
            mine.append(sample)
            problem = failure_reason(g, not cfg.keep_truncated)
            if problem is not None:
                dropped[problem[0]] = dropped.get(problem[0], 0) + 1
                continue
            key = (g.text, repr(g.tool_calls))
            if key in seen:
                dropped["duplicate_sample"] = dropped.get("duplicate_sample", 0) + 1
                continue
            seen.add(key)
            flat.append((row, sample))
        per_prompt.append(mine)
    if flat:
        rows = [r for r, _ in flat]
        items = Items(
            prompts=[frame["_prompt"][r].to_list() for r in rows],
            questions=[frame["_question"][r] for r in rows],
            completions=[completion_for_scoring(s.generation) for _, s in flat],
            references=[frame["_answer"][r] for r in rows],
            tools=[frame["tools"][r] for r in rows],
        )
        for (_, sample), combined in zip(flat, scorers.score(items)):
            sample.combined = combined
    return per_prompt


def _entry(base: dict[str, Any], request: GenerationRequest, params: GenerationParams, s: _Sample) -> dict[str, Any]:
    assert s.combined is not None
    entry = {**base, "seed": sample_seed(request, params, s.index), "sample": s.index,
             **generation_lineage(s.generation),
             "scores": {**s.combined.parts, "total": s.combined.total}}
    if s.combined.extra:
        entry["score_details"] = s.combined.extra
    return entry


def _pairs(row: int, scored: list[_Sample], cfg: BestOfKConfig, base: dict[str, Any],
           request: GenerationRequest, params: GenerationParams) -> list[dict[str, Any]]:
    ranked = sorted(scored, key=lambda s: (-s.combined.total, s.index))  # type: ignore[union-attr, operator]
    candidates = [(ranked[0], ranked[-1])] if cfg.pairs == "best_vs_worst" else list(itertools.combinations(ranked, 2))
    out = []
    for chosen, rejected in candidates:
        if chosen.combined.total - rejected.combined.total > cfg.margin:  # type: ignore[union-attr, operator]
            out.append({"row": row, "chosen": chosen, "rejected": rejected,
                        "entry": {**base, "chosen": _entry({}, request, params, chosen),
                                  "rejected": _entry({}, request, params, rejected)}})
    return out


def _why_none(samples: list[_Sample]) -> str:
    """Reason code for a prompt without any scored sample."""
    generations = [s.generation for s in samples]
    if generations and all(g.finish_reason == "error" for g in generations):
        return "generation_error"
    if generations and all(g.finish_reason in ("error", "length") for g in generations):
        return "truncated"
    if generations and all(not g.text.strip() and not g.tool_calls for g in generations):
        return "empty_generation"
    return "unscored"


def _detail_none(samples: list[_Sample]) -> str:
    errors = [s.generation.error for s in samples if s.generation.error]
    if errors:
        return errors[0]
    reasons = [r for s in samples if s.combined for r in s.combined.reasons]
    return "; ".join(dict.fromkeys(reasons)) or "no scorer applies to these samples"


def _reasons_text(sample: _Sample) -> str:
    return f" ({'; '.join(sample.combined.reasons)})" if sample.combined and sample.combined.reasons else ""


def _with_answer(frame: pl.DataFrame, samples: list[_Sample]) -> pl.DataFrame:
    return frame.with_columns(with_turn(frame["_prompt"].alias("messages"), "assistant",
                                        [s.generation.text for s in samples],
                                        [s.generation.tool_calls for s in samples]))


def _assistant(s: _Sample) -> list[dict[str, Any]]:
    return [{"role": "assistant", "content": s.generation.text, "name": None,
             "tool_calls": s.generation.tool_calls, "tool_call_id": None}]


def _dpo_frame(askable: pl.DataFrame, pairs: list[dict[str, Any]]) -> pl.DataFrame:
    if not pairs:
        return empty_table()
    base = askable[[p["row"] for p in pairs]]
    dtype = POLARS_SCHEMA["chosen"]
    return base.with_columns(
        pl.Series("id", [f"{i}:dpo:{p['chosen'].index}-{p['rejected'].index}"
                         for i, p in zip(base["id"].to_list(), pairs)], dtype=pl.String),
        base["_prompt"].alias("messages"),
        pl.Series("chosen", [_assistant(p["chosen"]) for p in pairs], dtype=dtype),
        pl.Series("rejected", [_assistant(p["rejected"]) for p in pairs], dtype=dtype),
        pl.lit(None, dtype=pl.Boolean).alias("label"),
        add_lineage(base["meta"].to_list(), [p["entry"] for p in pairs]),
    ).select([c for c in POLARS_SCHEMA])


def _kto_frame(askable: pl.DataFrame, rows: list[dict[str, Any]]) -> pl.DataFrame:
    if not rows:
        return empty_table()
    base = askable[[r["row"] for r in rows]]
    samples = [r["sample"] for r in rows]
    return _with_answer(base, samples).with_columns(
        pl.Series("id", [f"{i}:kto:{s.index}" for i, s in zip(base["id"].to_list(), samples)], dtype=pl.String),
        pl.Series("label", [r["label"] for r in rows], dtype=pl.Boolean),
        pl.lit(None, dtype=POLARS_SCHEMA["chosen"]).alias("chosen"),
        pl.lit(None, dtype=POLARS_SCHEMA["rejected"]).alias("rejected"),
        add_lineage(base["meta"].to_list(), [r["entry"] for r in rows]),
    ).select([c for c in POLARS_SCHEMA])


def _meta_value(meta: str | None, key: str) -> str | None:
    if not meta:
        return None
    value: Any = json.loads(meta)
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return None if value is None else str(value)
