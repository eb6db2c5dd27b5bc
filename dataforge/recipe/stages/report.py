"""The report stage: compare every trained model with the baseline on every eval set,
judge where asked, and write ``report/`` (see ``dataforge.recipe.report``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .base import Stage, StageContext

if TYPE_CHECKING:
    from ..model import Recipe


class Report(Stage):
    """Every earlier stage's outcome -> report.md, report.html, summary.json, sets/."""

    name = "report"

    def __init__(self, recipe: "Recipe", stage_names: list[str]) -> None:
        assert recipe.eval is not None
        self.spec = recipe.eval
        self.stage_names = stage_names
        self.recipe = recipe

    def config(self) -> Any:
        spec = self.spec
        return {"judge": spec.judge.model_dump(mode="json") if spec.judge else None,
                "bootstrap": spec.bootstrap.model_dump(mode="json"),
                "sets": [(s.name, s.role) for s in spec.sets],
                "lm_eval_role": spec.lm_eval.role if spec.lm_eval else None,
                "baseline": self.recipe.eval_baseline(), "models": self.recipe.eval_models(),
                "description": self.recipe.description}

    def upstream(self) -> list[str]:
        return list(self.stage_names)

    def input_files(self, ctx: StageContext) -> list[Path]:
        judge = self.spec.judge
        return [ctx.input_path(judge.template)] if judge is not None and judge.template else []

    def describe(self) -> str:
        baseline = self.recipe.eval_baseline()
        judge = f", judge {self.spec.judge.engine.kind}" if self.spec.judge else ""
        versus = f" vs {baseline}" if baseline else ""
        return f"{', '.join(self.recipe.eval_models())}{versus} on {len(self.spec.sets)} set(s){judge}"

    def run(self, ctx: StageContext, out: Path) -> dict[str, Any]:
        from ..report import build_report

        summary = build_report(ctx, self.stage_names, out)
        flagged = summary["forgetting"]
        ctx.log("[report] " + ("forgetting flagged: " + ", ".join(
            f"{f['model']}/{f['set']}/{f['metric']}" for f in flagged) if flagged else "no significant forgetting"))
        return {"stats": {"forgetting": len(flagged), "candidates": summary["candidates"],
                          "baseline": summary["baseline"]},
                "artifacts": {"html": "report.html", "markdown": "report.md", "summary": "summary.json"}}
