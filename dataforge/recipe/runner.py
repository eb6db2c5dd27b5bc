"""Run a recipe: its stages (``stages.plan``) into ``runs/<name>/``, resumable and atomic.

Each stage has a fingerprint: the hash of its own config, the fingerprints of the stages
it reads, the content of the files it reads and the toolkit version. A stage whose folder
holds a ``_stage.json`` with the same fingerprint is skipped, so a run killed halfway
resumes at the stage it was in. A stage writes into a temporary sibling folder and
renames it into place when it is complete: a killed stage leaves no half output.

The runner composes dataforge, evalkit and the back ends (each imported only by the stage
that needs it), so none of them depends on another.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Callable

from ..errors import UnsafeOutputError
from ..fileio import make_temp_dir, write_json_atomic, writing
from ..outputs import OutputLock, claim_folder, prepare_outputs
from .manifest import RunManifest, StageRecord
from .model import Recipe
from .stages import Stage, StageContext, StageOutcome, plan, versions

STAGE_FILE = "_stage.json"


class RecipeRunner:
    """Runs one recipe into ``<runs_dir>/<recipe.name>/``."""

    def __init__(self, recipe: Recipe, recipe_dir: Path, runs_dir: Path | str = "runs",
                 log: Callable[[str], None] = print) -> None:
        self.recipe = recipe
        self.recipe_dir = recipe_dir
        self.run_dir = Path(runs_dir) / recipe.name
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

    def _context(self) -> StageContext:
        return StageContext(self.recipe, self.recipe_dir, self.run_dir, self.log)

    def _run_all(self, force: bool) -> list[StageOutcome]:
        ctx = self._context()
        outcomes = []
        for stage in self.stages:
            outcome = self._run_stage(stage, ctx, force)
            ctx.outcomes[stage.name] = outcome
            outcomes.append(outcome)
        manifest = RunManifest(
            recipe=self.recipe, recipe_dir=str(self.recipe_dir), versions=versions(),
            stages=[StageRecord(**o.__dict__) for o in outcomes],
            finished_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        )
        write_json_atomic(self.run_dir / "manifest.json", manifest.model_dump(mode="json"))
        return outcomes

    # -- stage machinery ----------------------------------------------------------

    def _run_stage(self, stage: Stage, ctx: StageContext, force: bool) -> StageOutcome:
        name = stage.name
        fingerprint = stage.fingerprint(ctx)
        final = self.run_dir / name
        marker = final / STAGE_FILE
        if not force and marker.is_file():
            done = json.loads(marker.read_text(encoding="utf-8"))
            if done.get("fingerprint") == fingerprint:
                self.log(f"[{name}] up to date ({fingerprint}), skipped")
                return StageOutcome(name, fingerprint, True, 0.0, done.get("stats", {}),
                                    self._artifact_paths(final, done))
        if final.exists() and not marker.is_file():
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
            if final.exists():  # an earlier output of this stage (it has our _stage.json)
                shutil.rmtree(final)
            os.replace(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return StageOutcome(name, fingerprint, False, seconds, result.get("stats", {}),
                            self._artifact_paths(final, result))

    @staticmethod
    def _artifact_paths(stage_dir: Path, result: dict) -> dict[str, str]:
        """Stage results name artifacts relative to the stage folder; callers get paths."""
        return {k: str(stage_dir / v) for k, v in result.get("artifacts", {}).items()}
