"""``runs/<name>/manifest.json``: what a run did, as a typed model.

Written by the runner after every run (also when every stage was skipped); its JSON
Schema is published in ``schemas/manifest.schema.json`` for tools that read runs.
"""

from __future__ import annotations

from typing import Any

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


class RunManifest(BaseModel):
    """The manifest of a run folder."""

    recipe: Recipe = Field(description="the validated recipe, defaults filled in")
    recipe_dir: str = Field(description="folder the recipe's relative paths are resolved against")
    versions: dict[str, str] = Field(description="python and package versions")
    stages: list[StageRecord] = Field(description="every stage, in run order")
    finished_at: str = Field(description="local time the run ended, ISO 8601")
