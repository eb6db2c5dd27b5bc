"""Trainer back ends behind one interface.

``Backend.train(stage, dataset, model, output_dir) -> artifacts`` for the stages
sft, dpo, kto, orpo, rm, ppo, grpo. Third-party back ends register a ``Backend`` subclass
under the ``posttrain.backends`` entry-point group; ``available_backends()`` lists them.
The built-in TRL + peft back end arrives with the training issue.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

STAGES = ("sft", "dpo", "kto", "orpo", "rm", "ppo", "grpo")
ENTRY_POINT_GROUP = "posttrain.backends"


@dataclass
class TrainArtifacts:
    output_dir: Path
    model_dir: Path
    log_file: Path | None = None
    loss_plot: Path | None = None
    metrics: dict[str, Any] = field(default_factory=dict)


class Backend(ABC):
    name: ClassVar[str] = ""

    @abstractmethod
    def train(
        self, stage: str, config: dict[str, Any], dataset: pl.DataFrame, model: str, output_dir: Path
    ) -> TrainArtifacts:
        """Train ``model`` on canonical ``dataset`` for ``stage``; write into ``output_dir``."""


def available_backends() -> dict[str, Any]:
    """Back ends registered through the ``posttrain.backends`` entry-point group."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
