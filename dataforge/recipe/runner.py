"""Run a recipe: its stages (``stages.plan``) into ``runs/<name>/``, resumable and atomic.

Each stage has a fingerprint: the hash of its own config, the fingerprints of the stages
it reads, the content of the files it reads and the toolkit version. A stage whose folder
holds a ``_stage.json`` with the same fingerprint is skipped, so a run killed at any
point resumes at the stage it was in. A stage writes into a temporary sibling folder and
renames it into place when it is complete: a killed stage leaves no half output (its
temporary is removed by the next run).

``manifest.json`` is written when the run starts and after every stage (``status:
running``) and at the end (``complete`` or ``failed``), so a run folder always says how far
it got; ``dataforge runs`` reads it.

The runner composes dataforge, evalkit and the back ends (each imported only by the stage
that needs it), so none of them depends on another.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import UnsafeOutputError
from ..fileio import make_temp_dir, write_json_atomic, writing
from ..outputs import OutputLock, claim_folder, prepare_outputs, temp_prefix
from .manifest import EvaluatedModel, RunManifest, StageRecord
from .model import Recipe
from .stages import Stage, StageContext, StageOutcome, evaluated_models, plan, versions

STAGE_FILE = "_stage.json"
MANIFEST_FILE = "manifest.json"


@dataclass
class PlannedStage:
    """A stage as ``--dry-run`` shows it: would it run, and why not."""

    name: str
    fingerprint: str
    up_to_date: bool
    description: str


class RecipeRunner:
    """Runs one recipe into ``<runs_dir>/<recipe.name>/``."""

    def __init__(self, recipe: Recipe, recipe_dir: Path, runs_dir: Path | str = "runs",
                 log: Callable[[str], None] = print) -> None:
        self.recipe = recipe
        self.recipe_dir = Path(recipe_dir).absolute()
        # absolute: adapters record the stage they were trained on by path
        self.run_dir = (Path(runs_dir) / recipe.name).absolute()
        self.log = log
        self.stages: list[Stage] = plan(recipe)

    # -- public -------------------------------------------------------------------

    def run(self, force: bool = False, overwrite: bool = False) -> list[StageOutcome]:
        """Run every stage that is not up to date; ``force`` reruns them all.

        The run folder must be new, empty or a run folder of ours (``overwrite`` allows a
        folder posttrain did not create, without deleting anything in it); it must not hold
        or lie inside the recipe's input files; one process at a time writes it.
        """
        inputs = [p for stage in self.stages for p in stage.input_files(self._context())]
        prepare_outputs(inputs, folders=[self.run_dir], overwrite=overwrite)
        with OutputLock(self.run_dir):
            claim_folder(self.run_dir, "dataforge run", overwrite=overwrite)
            return self._run_all(force)

    def dry_run(self) -> list[PlannedStage]:
        """Every stage with its fingerprint and whether it is up to date (would be
        skipped); nothing is written. A stage after one that would run is shown up to date
        only when its own fingerprint matches: it depends on the upstream *fingerprint*, so
        rerunning an upstream stage with the same inputs leaves it valid."""
        ctx = self._context()
        planned = []
        for stage in self.stages:
            fingerprint = stage.fingerprint(ctx)
            done = self._done(stage.name)
            planned.append(PlannedStage(stage.name, fingerprint, done.get("fingerprint") == fingerprint,
                                        stage.describe()))
            ctx.outcomes[stage.name] = StageOutcome(stage.name, fingerprint, True, 0.0)
        return planned

    def _context(self) -> StageContext:
        return StageContext(self.recipe, self.recipe_dir, self.run_dir, self.log)

    def _run_all(self, force: bool) -> list[StageOutcome]:
        ctx = self._context()
        outcomes: list[StageOutcome] = []
        started = _now()
        status = "failed"
        self._write_manifest(outcomes, ctx, started, "running")  # a run killed in its first stage says so too
        try:
            for stage in self.stages:
                outcome = self._run_stage(stage, ctx, force)
                ctx.outcomes[stage.name] = outcome
                outcomes.append(outcome)
                self._write_manifest(outcomes, ctx, started, "running")
            status = "complete"
        finally:
            self._write_manifest(outcomes, ctx, started, status)
        return outcomes

    def _write_manifest(self, outcomes: list[StageOutcome], ctx: StageContext, started: str, status: str) -> None:
        evaluated = []
        models = evaluated_models(self.recipe)  # the baseline first, when there is one
        baseline = models[0].label if models and self.recipe.eval_baseline() is not None else None
        for model in models:
            ups = model.upstream()
            if all(u in ctx.outcomes for u in ups):
                role = "baseline" if model.label == baseline else "candidate"
                evaluated.append(EvaluatedModel(
                    label=model.label, role=role, model=model.path(ctx) if model.kind != "external" else model.ref,
                    fingerprint=ctx.outcomes[ups[0]].fingerprint if ups else None))
        manifest = RunManifest(
            recipe=self.recipe, recipe_dir=str(self.recipe_dir), versions=versions(), status=status,
            planned=[s.name for s in self.stages], stages=[StageRecord(**o.__dict__) for o in outcomes],
            evaluated=evaluated, started_at=started, finished_at=_now() if status != "running" else None,
        )
        write_json_atomic(self.run_dir / MANIFEST_FILE, manifest.model_dump(mode="json", by_alias=True))

    # -- stage machinery ----------------------------------------------------------

    def _done(self, name: str) -> dict:
        marker = self.run_dir / name / STAGE_FILE
        return json.loads(marker.read_text(encoding="utf-8")) if marker.is_file() else {}

    def _run_stage(self, stage: Stage, ctx: StageContext, force: bool) -> StageOutcome:
        name = stage.name
        fingerprint = stage.fingerprint(ctx)
        final = self.run_dir / name
        done = self._done(name)
        if not force and done.get("fingerprint") == fingerprint:
            self.log(f"[{name}] up to date ({fingerprint}), skipped")
            return StageOutcome(name, fingerprint, True, 0.0, done.get("stats", {}),
                                self._artifact_paths(final, done), stage.config())
        if final.exists() and not done:
            raise UnsafeOutputError(f"{final} exists but is not a stage output of posttrain; move it away")
        self.log(f"[{name}] running ({fingerprint}): {stage.describe()}")
        tmp = make_temp_dir(final)
        start = time.perf_counter()
        try:
            with writing(final):  # a full disk names the stage folder, not our temporary
                result = stage.run(ctx, tmp)
            seconds = time.perf_counter() - start
            write_json_atomic(tmp / STAGE_FILE, {"fingerprint": fingerprint, "seconds": seconds,
                                                 **result})
            old = final.with_name(temp_prefix(name, "old") + "dir")
            if final.exists():  # an earlier output of this stage (it has our _stage.json)
                os.replace(final, old)  # out of the way in one step; a kill never leaves half of it
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return StageOutcome(name, fingerprint, False, seconds, result.get("stats", {}),
                            self._artifact_paths(final, result), stage.config())

    @staticmethod
    def _artifact_paths(stage_dir: Path, result: dict) -> dict[str, str]:
        """Stage results name artifacts relative to the stage folder; callers get paths."""
        return {k: str(stage_dir / v) for k, v in result.get("artifacts", {}).items()}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
