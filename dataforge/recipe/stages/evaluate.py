"""Eval stages: one evalkit run per (model, eval set), and lm-eval tasks per model.

``eval.<model>.<set>/run/`` is a plain evalkit run folder (``evalkit compare`` reads it),
made by ``evalkit.run.evaluate``: generate with the model, score with the set's metrics.
The model is the recipe's base model (``base``), a train stage's merged model, or the
baseline given as a path (``baseline``: an earlier run folder's final model, or any
model). Each (model, set) is its own stage, so changing a training argument re-evaluates
only the trained model: the base model's runs stay up to date.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import UserError
from ..model import BASE, EvalSet, EvalStage, LmEvalSpec, Recipe
from .base import Stage, StageContext
from .train import stage_folder

#: label of a baseline given as a path (an earlier run or a model folder)
BASELINE = "baseline"


@dataclass(frozen=True)
class EvalModel:
    """A model the eval stages evaluate: its label in folder names and the report, and
    where it comes from (``base``, a train stage, or a path/hub id)."""

    label: str
    kind: str  # "base" | "stage" | "external"
    ref: str  # the model reference, the stage name, or the path as written

    def upstream(self) -> list[str]:
        return [stage_folder(self.ref)] if self.kind == "stage" else []

    def path(self, ctx: StageContext) -> str:
        """What ``evaluate`` loads: an alias / hub id, or a folder."""
        if self.kind == "stage":
            return str(ctx.artifact(stage_folder(self.ref), "model"))
        if self.kind == "external":
            return external_model(ctx.input_path(self.ref), self.ref)[0]
        return self.ref

    def identity(self, ctx: StageContext) -> Any:
        """What the fingerprint of an external model rests on (None for the others)."""
        if self.kind != "external":
            return None
        return external_model(ctx.input_path(self.ref), self.ref)[1]


def eval_model(recipe: Recipe, name: str) -> EvalModel:
    """``base``, a train stage name, or (baseline only) a run folder / model."""
    if name == BASE:
        return EvalModel(BASE, "base", recipe.model)
    if any(s.label == name for s in recipe.train):
        return EvalModel(name, "stage", name)
    return EvalModel(BASELINE, "external", name)


def external_model(path: Path, ref: str) -> tuple[str, Any]:
    """(what to load, its identity) for a baseline outside the run: an earlier run folder
    gives its first evaluated model (identity: the fingerprint of the stage that made it);
    a model folder gives itself (identity: its files' names, sizes and times); anything
    else is an alias or hub id (identity: the name)."""
    manifest = path / "manifest.json"
    if manifest.is_file():
        evaluated = json.loads(manifest.read_text(encoding="utf-8")).get("evaluated") or []
        candidates = [m for m in evaluated if m.get("role") == "candidate"]
        if not candidates:
            raise UserError(f"{path}: the run evaluated no model to use as the baseline")
        first = candidates[0]
        return first["model"], first.get("fingerprint") or first["model"]
    if path.is_dir():
        files = sorted((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in path.iterdir() if f.is_file())
        return str(path), files
    return ref, ref


class Eval(Stage):
    """One model on one eval set -> ``run/`` (predictions, metrics, manifest): an evalkit run."""

    def __init__(self, spec: EvalStage, item: EvalSet, model: EvalModel, refs: dict[str, tuple[str, str]]) -> None:
        self.spec = spec
        self.item = item
        self.model = model
        self.refs = refs
        self.name = f"eval.{model.label}.{item.name}"
        self.metrics = item.metrics or spec.metrics
        self.metric_params = {name: {**spec.metric_params.get(name, {}), **item.metric_params.get(name, {})}
                              for name in self.metrics if name in spec.metric_params or name in item.metric_params}
        self.limit = item.limit or spec.limit

    def config(self) -> Any:
        return {"model": {"kind": self.model.kind, "ref": self.model.ref if self.model.kind == "base" else None},
                "set": self.item.name, "data": self.item.data, "metrics": self.metrics,
                "metric_params": self.metric_params, "limit": self.limit, "engine": self.spec.engine,
                "engine_options": self.spec.engine_options, "generation": self.spec.generation.to_dict()}

    def upstream(self) -> list[str]:
        data = [self.refs[self.item.data][0]] if self.item.data in self.refs else []
        return data + self.model.upstream()

    def input_files(self, ctx: StageContext) -> list[Path]:
        files = [] if self.item.data in self.refs else [ctx.input_path(self.item.data)]
        template = ctx.with_paths(self.spec.engine_options).get("chat_template")
        return files + ([Path(template)] if template and "{" not in template else [])

    def external(self, ctx: StageContext) -> Any:
        return self.model.identity(ctx)

    def describe(self) -> str:
        limit = f" (first {self.limit})" if self.limit else ""
        return f"{self.model.label} on {self.item.name} = {self.item.data}{limit}: {', '.join(self.metrics)}"

    def run(self, ctx: StageContext, out: Path) -> dict[str, Any]:
        from evalkit.run import GenerationConfig, evaluate

        spec = self.spec
        run = evaluate(
            self.model.path(ctx),
            data=ctx.dataset(self.item.data),
            limit=self.limit,
            metrics=self.metrics,
            metric_params=self.metric_params,
            generation=GenerationConfig(
                engine=spec.engine,
                params=spec.generation,
                engine_options=ctx.with_paths(spec.engine_options),
                cache=spec.cache,
                cache_path=str(ctx.input_path(spec.cache_path)) if spec.cache_path else None,
            ),
            output=out / "run",
        )
        scores = {name: m.get("score") for name, m in run.metrics.items()}
        ctx.log(f"[{self.name}] " + ", ".join(
            f"{k}={v:.4g}" if isinstance(v, (int, float)) else f"{k}=n/a" for k, v in scores.items()))
        return {"stats": {"metrics": scores, "rows": run.predictions.height, "model": self.model.label,
                          "set": self.item.name},
                "artifacts": {"run": "run"}}


class LmEval(Stage):
    """lm-eval tasks on one model -> ``run/``: an evalkit run (``evalkit harness``)."""

    def __init__(self, spec: LmEvalSpec, model: EvalModel) -> None:
        self.spec = spec
        self.model = model
        self.name = f"eval.{model.label}.lm_eval"

    def config(self) -> Any:
        return {"model": {"kind": self.model.kind, "ref": self.model.ref if self.model.kind == "base" else None},
                "lm_eval": self.spec.model_dump(mode="json", exclude={"role"})}

    def upstream(self) -> list[str]:
        return self.model.upstream()

    def input_files(self, ctx: StageContext) -> list[Path]:
        return sorted(p for folder in self.spec.include_path for p in ctx.input_path(folder).rglob("*")
                      if p.is_file())

    def external(self, ctx: StageContext) -> Any:
        return self.model.identity(ctx)

    def describe(self) -> str:
        return f"{self.model.label} on lm-eval {', '.join(self.spec.tasks)}"

    def run(self, ctx: StageContext, out: Path) -> dict[str, Any]:
        from evalkit.harness import run_harness

        spec = self.spec
        run = run_harness(
            self.model.path(ctx), spec.tasks,
            include_path=[ctx.input_path(p) for p in spec.include_path],
            limit=spec.limit, num_fewshot=spec.num_fewshot, apply_chat_template=spec.apply_chat_template,
            output=out / "run",
        )
        scores = {name: m.get("score") for name, m in run.metrics.items()}
        ctx.log(f"[{self.name}] " + ", ".join(f"{k}={v:.4g}" for k, v in scores.items() if v is not None))
        return {"stats": {"metrics": scores, "rows": run.predictions.height, "model": self.model.label,
                          "set": "lm_eval"},
                "artifacts": {"run": "run"}}
