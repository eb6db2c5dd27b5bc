"""The back-end contract: one ``train`` call, typed config in, a folder of artifacts out.

Why this shape: the call takes a typed stage config and *paths* (canonical Parquet, or any
file ``dataforge`` reads), never in-memory frames or live models, so exactly the same call
runs in a notebook, in the CLI and in every process of an ``accelerate launch`` job. What
comes back (:class:`TrainArtifacts`) only points into ``output_dir``; everything a later
stage, ``merge`` or evalkit needs is on disk.

Back ends register in ``BACKENDS`` (entry-point group ``posttrain.backends``); the built-in
``trl`` one is imported only when asked for, so listing back ends loads no torch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Mapping, Protocol, Sequence

from dataforge.registry import Registry

from .config import STAGES, StageConfig

PathLike = str | Path


@dataclass
class TrainArtifacts:
    """What a stage left in ``output_dir`` (every path is inside it)."""

    output_dir: Path
    #: the adapter (LoRA) or the full model, with the tokenizer and the chat template used
    model_dir: Path
    log_file: Path | None = None
    curve_plot: Path | None = None
    summary_file: Path | None = None
    #: the content of ``summary.json``: steps, tokens, wall time, memory, final metrics, health
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def health(self) -> list[dict[str, Any]]:
        """Training-health flags (empty when nothing looked wrong)."""
        return list(self.summary.get("health", []))


class TrainProgress(Protocol):
    """Where a back end reports progress (the CLI passes a rich progress bar)."""

    def start(self, total_steps: int, description: str) -> None: ...

    def update(self, step: int, logs: Mapping[str, Any]) -> None: ...

    def finish(self) -> None: ...


class Backend(ABC):
    """A trainer back end: ``name``, the stages it runs, and ``train``."""

    name: ClassVar[str] = ""
    #: the stages this back end can run (a subset of ``backends.STAGES``)
    stages: ClassVar[tuple[str, ...]] = STAGES

    @abstractmethod
    def train(
        self,
        config: StageConfig,
        data: PathLike | Sequence[PathLike],
        model: str,
        output_dir: PathLike,
        *,
        eval_data: PathLike | Sequence[PathLike] | None = None,
        progress: TrainProgress | None = None,
    ) -> TrainArtifacts:
        """Train ``model`` (alias, folder, hub id or an earlier stage's output) on the
        records in ``data`` as ``config.stage`` says, writing everything into ``output_dir``.

        Refuse bad input with a :class:`~dataforge.errors.UserError` *before* loading the
        model; never delete or replace anything in ``output_dir`` the back end did not write.
        """


#: every trainer back end: the built-in ``trl`` (lazy) and plug-ins under ``posttrain.backends``
BACKENDS: Registry[type[Backend]] = Registry(
    "backend", group="posttrain.backends", lazy={"trl": "backends.builtin"}
)
register_backend = BACKENDS.register


def as_paths(data: PathLike | Sequence[PathLike] | None) -> list[Path]:
    """One path or several -> a list of paths (``None`` -> empty)."""
    if data is None:
        return []
    if isinstance(data, (str, Path)):
        return [Path(data)]
    return [Path(p) for p in data]
