"""The synth stage: the recipe's ``synth:`` steps in order, between data and eval.

Input: the data stage's ``train`` (or ``test``) split, or a file. Output folder:
``train.parquet`` (the last step's kept records), ``dpo.parquet`` and ``kto.parquet``
when a best-of-K step ran, and ``rejected/`` with every step's rejected rows
(``NN-synth.<step>.parquet``). Like every stage it is fingerprinted and skipped when up to
date; inside, every generation goes through the generation cache, so a run killed in
the middle of this stage regenerates nothing on the rerun.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from ...synth.pipeline import SynthSection
from .base import Stage, StageContext


class Synth(Stage):
    """Records -> synthesis steps -> ``train.parquet`` (+ ``dpo``/``kto``) and ``rejected/``."""

    name = "synth"

    def __init__(self, spec: SynthSection, source: tuple[str, str] | None) -> None:
        self.spec = spec
        #: (stage, artifact) of the input when it is a dataset of the run; None for a file
        self.source = source

    def config(self) -> Any:
        return self.spec.model_dump(mode="json")

    def upstream(self) -> list[str]:
        return [self.source[0]] if self.source else []

    def input_files(self, ctx: StageContext) -> list[Path]:
        files = [] if self.source else [ctx.input_path(self.spec.input)]
        return files + [ctx.input_path(p) for p in _template_files(self.spec)]

    def describe(self) -> str:
        steps = " -> ".join(s.step for s in self.spec.steps)
        model = self.spec.engine.model or "default model"
        return f"{self.spec.input} -> [{steps}] with {self.spec.engine.kind}/{model}"

    def _records(self, ctx: StageContext) -> tuple[pl.DataFrame, pl.DataFrame | None]:
        """The input records, and the prompt file's rejected rows (None for a dataset)."""
        if not self.source:
            from ...synth.inputs import load_prompts

            loaded = load_prompts(ctx.input_path(self.spec.input))
            return loaded.records, loaded.rejected
        return pl.read_parquet(ctx.dataset(self.spec.input)), None

    def run(self, ctx: StageContext, out: Path) -> dict[str, Any]:
        from ...rejects import RejectedWriter
        from ...synth.cache import GenerationCache
        from ...synth.pipeline import Engines, run_steps

        spec = self.spec
        records, read_rejected = self._records(ctx)
        steps = [_with_absolute_paths(step, ctx) for step in spec.steps]
        cache = GenerationCache(ctx.input_path(spec.cache_path) if spec.cache_path else None) if spec.cache else None
        try:
            with Engines(spec.engine, cache) as engines:
                result = run_steps(records, steps, engines)
                cache_stats = engines.cache_stats()
        finally:
            if cache is not None:
                cache.close()
        artifacts = {"train": "train.parquet", "rejected": "rejected"}
        result.kept.write_parquet(out / "train.parquet", compression="zstd")
        for name, frame in result.outputs.items():
            frame.write_parquet(out / f"{name}.parquet", compression="zstd")
            artifacts[name] = f"{name}.parquet"
        with RejectedWriter(out / "rejected") as sink:
            if read_rejected is not None and read_rejected.height:
                sink(0, "read", read_rejected)
            for position, step in enumerate(result.steps, start=1):
                if step.rejected.height:
                    sink(position, f"synth.{step.stats['step']}", step.rejected)
        stats = {"steps": [s.stats for s in result.steps], "train_rows": result.kept.height,
                 **{f"{name}_rows": frame.height for name, frame in result.outputs.items()},
                 "cache": cache_stats}
        ctx.log("[synth] " + ", ".join(f"{s.stats['step']}: {s.stats['rows_kept']} kept, "
                                       f"{s.stats['rows_rejected']} rejected" for s in result.steps))
        return {"stats": stats, "artifacts": artifacts}


def _template_files(spec: SynthSection) -> list[str]:
    """Template files the steps name (their content is part of the fingerprint)."""
    found = []
    for step in spec.steps:
        if getattr(step, "template", None):
            found.append(step.template)  # type: ignore[union-attr]
        for value in (getattr(step, "scorers", None) or {}).values():
            if isinstance(value, dict) and value.get("template"):
                found.append(value["template"])
    return found


def _with_absolute_paths(step: Any, ctx: StageContext) -> Any:
    """The step config with template and reward-model paths relative to the recipe."""
    updates: dict[str, Any] = {}
    if getattr(step, "template", None):
        updates["template"] = str(ctx.input_path(step.template))
    if getattr(step, "scorers", None):
        scorers = {}
        for name, value in step.scorers.items():
            if isinstance(value, dict):
                value = {**value, **{k: str(ctx.input_path(value[k])) for k in ("template", "path") if value.get(k)}}
            scorers[name] = value
        updates["scorers"] = scorers
    return step.model_copy(update=updates) if updates else step
