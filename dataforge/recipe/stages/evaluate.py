"""The eval stage: generate with a model on an eval set and score it with evalkit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from ...errors import UserError
from ..model import EvalStage
from .base import Stage, StageContext


class Eval(Stage):
    """Eval set -> ``run/`` (predictions, metrics, manifest), an evalkit run folder."""

    name = "eval"

    def __init__(self, spec: EvalStage, model: str) -> None:
        self.spec = spec
        self.model = spec.model or model

    def config(self) -> Any:
        return {"spec": self.spec.model_dump(mode="json"), "model": self.model}

    def _uses_split(self) -> bool:
        return self.spec.data in ("test", "train")

    def upstream(self) -> list[str]:
        return ["data"] if self._uses_split() else []

    def input_files(self, ctx: StageContext) -> list[Path]:
        return [] if self._uses_split() else [ctx.input_path(self.spec.data)]

    def describe(self) -> str:
        return f"{self.model} on {self.spec.data}: {', '.join(self.spec.metrics)}"

    def _target(self, ctx: StageContext) -> Path:
        if not self._uses_split():
            return ctx.input_path(self.spec.data)
        target = ctx.run_dir / "data" / f"{self.spec.data}.parquet"
        if not target.is_file():
            hint = " (add `split:` to the data stage)" if self.spec.data == "test" else ""
            raise UserError(f"eval.data={self.spec.data!r}: {target} does not exist{hint}")
        return target

    def run(self, ctx: StageContext, out: Path) -> dict[str, Any]:
        from evalkit.run import GenerationConfig, evaluate

        spec = self.spec
        target = self._target(ctx)
        if spec.limit is not None:
            limited = out / "eval_items.parquet"
            pl.read_parquet(target).head(spec.limit).write_parquet(limited)
            target = limited
        run = evaluate(
            self.model,
            data=target,
            metrics=spec.metrics,
            metric_params=spec.metric_params,
            generation=GenerationConfig(
                engine=spec.engine,
                params=spec.generation,
                engine_options=spec.engine_options,
                cache=spec.cache,
                cache_path=str(ctx.input_path(spec.cache_path)) if spec.cache_path else None,
            ),
            output=out / "run",
        )
        scores = {name: m.get("score") for name, m in run.metrics.items()}
        ctx.log("[eval] " + ", ".join(
            f"{k}={v:.4g}" if isinstance(v, (int, float)) else f"{k}=n/a" for k, v in scores.items()))
        return {"stats": {"metrics": scores, "rows": run.predictions.height}, "artifacts": {"run": "run"}}
