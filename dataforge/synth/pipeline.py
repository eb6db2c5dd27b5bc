"""Synthesis steps in order, on engines built once and cached: what a recipe's ``synth:``
section runs (and what a notebook can run directly).

.. code-block:: python

    section = SynthSection(engine={"kind": "openai", "options": {"base_url": URL}},
                           steps=[{"step": "distill"}, {"step": "best_of_k", "scorers": {"math_answer": 1}}])
    with Engines(section.engine, GenerationCache()) as engines:
        result = run_steps(records, section.steps, engines)

Each step reads the previous step's kept records. Best-of-K's DPO and KTO sets are side
outputs (``result.outputs``), and every step's rejected rows are kept apart by step.
All engines go through one generation cache, so a rerun of a finished or killed run
only generates what is missing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Sequence

import polars as pl
from pydantic import Field

from ..config import Config
from .cache import CachedEngine, GenerationCache
from .engines import make_engine
from .engines.base import Engine
from .scorers import EngineSpec
from .steps import STEPS, BestOfKConfig, StepResult, StepSpec


class SynthSection(Config):
    """A recipe's ``synth:`` section: where the records come from, the default engine,
    the cache, and the steps in order."""

    input: str = Field("train", description='"train" or "test" (the data stage\'s split) or a file path')
    engine: EngineSpec = Field(default_factory=EngineSpec, description="default engine of every step")
    cache: bool = Field(True, description="reuse cached generations (content-addressed; reruns are free)")
    cache_path: str | None = Field(None, description="generation cache file; default ~/.cache/posttrain/generations.sqlite")
    steps: list[StepSpec] = Field(min_length=1, description="steps in order; each reads the previous one's output")


class Engines:
    """Engines by spec, built on first use, wrapped in the generation cache, closed together."""

    def __init__(self, default: EngineSpec, cache: GenerationCache | None = None) -> None:
        self.default = default
        self.cache = cache
        self._built: dict[str, Engine] = {}

    def get(self, spec: EngineSpec | None = None) -> Engine:
        spec = spec or self.default
        key = json.dumps(spec.model_dump(mode="json"), sort_keys=True)
        if key not in self._built:
            engine = make_engine(spec.kind, spec.model, **spec.options)
            self._built[key] = CachedEngine(engine, self.cache) if self.cache is not None else engine
        return self._built[key]

    def cache_stats(self) -> dict[str, int]:
        cached = [e for e in self._built.values() if isinstance(e, CachedEngine)]
        return {"hits": sum(e.hits for e in cached), "misses": sum(e.misses for e in cached)}

    def close(self) -> None:
        for engine in self._built.values():
            (engine.inner if isinstance(engine, CachedEngine) else engine).close()
        self._built.clear()

    def __enter__(self) -> "Engines":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def run_step(records: pl.DataFrame, config: StepSpec, engines: Engines, *, progress: bool = True) -> StepResult:
    """One step on ``records`` with the engine its config names (or the default one)."""
    function = STEPS[config.step][1]
    engine = engines.get(config.engine)
    if isinstance(config, BestOfKConfig):
        return function(records, engine, config, engine_for=engines.get, progress=progress)
    return function(records, engine, config, progress=progress)


@dataclass
class PipelineResult:
    """The last step's kept records, each step's result, and the side outputs (dpo, kto)."""

    kept: pl.DataFrame
    steps: list[StepResult]
    outputs: dict[str, pl.DataFrame] = field(default_factory=dict)


def run_steps(records: pl.DataFrame, steps: Sequence[StepSpec], engines: Engines, *,
              progress: bool = True) -> PipelineResult:
    """Every step in order, each on the previous step's kept records."""
    results = []
    outputs: dict[str, pl.DataFrame] = {}
    current = records
    for config in steps:
        result = run_step(current, config, engines, progress=progress)
        results.append(result)
        for name, frame in result.outputs.items():
            outputs[name] = pl.concat([outputs[name], frame], how="vertical") if name in outputs else frame
        current = result.kept
    return PipelineResult(current, results, outputs)
