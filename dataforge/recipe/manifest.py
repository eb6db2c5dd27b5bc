"""``runs/<name>/manifest.json``: what a run did, as a typed model.

Rewritten by the runner after every stage (``status: running``) and when the run ends
(``complete`` or ``failed``; a killed run stays ``running`` with its lock's process gone).
Its JSON Schema is published in ``schemas/manifest.schema.json`` for tools that read runs.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from .model import Recipe


class StageRecord(BaseModel):
    """One stage of the run as it ended: run now, or found up to date and skipped."""

    name: str = Field(description="the stage's folder under the run folder")
    fingerprint: str = Field(description="hash of the stage's config, inputs and toolkit version")
    skipped: bool = Field(description="true when an up-to-date output was found and reused")
    seconds: float = Field(description="wall time of this invocation (0 when skipped)")
    stats: dict[str, Any] = Field(default_factory=dict, description="the stage's counts and scores")
    artifacts: dict[str, str] = Field(default_factory=dict, description="artifact name -> path")
    config: Any = Field(None, description="the stage's config as it was fingerprinted")


class EvaluatedModel(BaseModel):
    """A model the run evaluated (a later recipe's `eval.baseline: <this run>` uses the first candidate)."""

    label: str = Field(description="`base`, a train stage name, or `baseline` (a model from outside the run)")
    role: Literal["baseline", "candidate"] = Field(description="compared against, or compared")
    model: str = Field(description="what was loaded: an alias, a hub id or a model folder")
    fingerprint: str | None = Field(None, description="fingerprint of the train stage that made it")


class RunManifest(BaseModel):
    """The manifest of a run folder."""

    recipe: Recipe = Field(description="the validated recipe, defaults filled in, overrides and ${VAR}s applied")
    recipe_dir: str = Field(description="folder the recipe's relative paths are resolved against")
    versions: dict[str, str] = Field(description="python and package versions")
    status: Literal["running", "complete", "failed"] = Field(description="how far the run got")
    planned: list[str] = Field(description="every stage of the plan, in run order")
    stages: list[StageRecord] = Field(description="the stages done so far, in run order")
    evaluated: list[EvaluatedModel] = Field(default_factory=list, description="models evaluated, the baseline first")
    started_at: str = Field(description="local time this invocation started, ISO 8601")
    finished_at: str | None = Field(None, description="local time it ended (null while running)")
