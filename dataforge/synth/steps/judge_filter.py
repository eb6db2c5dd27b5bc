"""``judge_filter``: score existing records with the pointwise judge, keep the good ones.

The judge sees the record's prompt (``messages`` without the final assistant turn) and
that final assistant turn as the answer. Kept: score >= ``threshold`` (on the judge's
scale), with the score, rationale and judge signature in ``meta.synth``. Rejected, with
score and rationale in ``detail``: ``below_threshold``, ``judge_unparseable`` (no score
after the retries), ``no_answer`` (the record does not end with an assistant turn).
"""

from __future__ import annotations

from typing import Any, Literal

import polars as pl
from pydantic import Field, model_validator

from ..engines.base import Engine, GenerationParams
from ..judge import DEFAULT_RUBRIC, PointwiseJudge
from ..progress import StepProgress
from .common import StepConfig, StepResult, add_lineage, finish, rejected_rows, score_counts, with_prompts

NAME = "judge_filter"


class JudgeFilterConfig(StepConfig):
    """Options of the judge-filter step."""

    step: Literal["judge_filter"] = "judge_filter"
    threshold: float = Field(description="keep records the judge scores at least this (on `scale`)")
    scale: tuple[float, float] = Field((1, 10), description="(worst, best) score the judge gives")
    rubric: str | None = Field(None, description="what the judge looks at; default the shipped rubric")
    template: str | None = Field(None, description="judge prompt template file; default the shipped one")
    retries: int = Field(2, ge=0, description="re-asks when a reply has no score")
    max_new_tokens: int = Field(512, gt=0, description="length of the judge's reply")

    @model_validator(mode="after")
    def _threshold_on_scale(self) -> "JudgeFilterConfig":
        low, high = self.scale
        if not low <= self.threshold <= high:
            raise ValueError(f"threshold {self.threshold} is outside the scale {low:g}-{high:g}")
        return self


def judge_filter(records: pl.DataFrame, engine: Engine, config: JudgeFilterConfig | dict[str, Any],
                 *, progress: bool = True) -> StepResult:
    """Judge every record's final answer with ``engine`` (see module docstring)."""
    cfg = config if isinstance(config, JudgeFilterConfig) else JudgeFilterConfig.model_validate(config)
    judge = PointwiseJudge(engine, template=cfg.template, rubric=cfg.rubric or DEFAULT_RUBRIC, scale=cfg.scale,
                           params=GenerationParams(max_new_tokens=cfg.max_new_tokens), retries=cfg.retries)
    frame = with_prompts(records)
    answered = frame.filter(pl.col("_answer").is_not_null() & pl.col("_askable"))
    unanswered = frame.filter(pl.col("_answer").is_null() | ~pl.col("_askable"))
    questions, answers = answered["_question"].to_list(), answered["_answer"].to_list()
    results = []
    with StepProgress(NAME, len(answers), enabled=progress) as bar:
        for start in range(0, len(answers), cfg.chunk_size):
            chunk = judge.judge(questions[start:start + cfg.chunk_size], answers[start:start + cfg.chunk_size])
            results += chunk
            bar.update(len(chunk))
    keep = [r.score is not None and r.score >= cfg.threshold for r in results]
    good = [i for i, k in enumerate(keep) if k]
    bad = [i for i, k in enumerate(keep) if not k]
    entries = [{"step": NAME, "judge": judge.signature, "engine": engine.fingerprint(), "model": engine.model,
                "score": results[i].score, "rationale": results[i].rationale, "attempts": results[i].attempts}
               for i in good]
    kept_frame = answered[good]
    kept = kept_frame.with_columns(add_lineage(kept_frame["meta"].to_list(), entries))
    high = cfg.scale[1]
    rejected = [
        rejected_rows(unanswered, NAME, ["no_answer"] * unanswered.height,
                      ["the record does not end with an assistant answer to a user turn"] * unanswered.height),
        rejected_rows(
            answered[bad], NAME,
            ["judge_unparseable" if results[i].score is None else "below_threshold" for i in bad],
            [(f"no score after {results[i].attempts} attempt(s)" if results[i].score is None
              else f"score {results[i].score:g}/{high:g} < {cfg.threshold:g}") + f"; judge said: {results[i].rationale}"
             for i in bad],
        ),
    ]
    scores = [r.score for r in results if r.score is not None]
    stats = {"judge": judge.signature, "judged": len(results), "unparseable": len(results) - len(scores),
             "mean_score": sum(scores) / len(scores) if scores else None,
             "score_counts": score_counts(scores, 1.0), "seconds": round(bar.seconds, 3)}
    return finish(NAME, records.height, kept, rejected, stats)
