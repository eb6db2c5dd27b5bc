"""The stage contract: what the runner runs, in order, one folder each.

A :class:`Stage` names its folder (``name``), says what its output depends on
(``config()`` and ``upstream()``; input files are hashed by content through
``input_files()``), and produces its output into a temporary folder (``run``), returning
``{"stats": {...}, "artifacts": {key: relative path}}``. The runner does the rest, the
same way for every stage: fingerprint, skip when up to date, write atomically, record
the outcome in the manifest.
"""

from __future__ import annotations

import hashlib
import json
import platform
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ...errors import UserError
from ...fileio import file_sha256, package_versions

if TYPE_CHECKING:
    from ..model import Recipe

_VERSIONED = ("posttrain", "polars", "pyarrow", "datasketch", "presidio-analyzer",
              "torch", "transformers", "trl", "peft", "sacrebleu", "bert-score")


def versions() -> dict[str, str]:
    """Versions recorded in manifests (and the toolkit's own in every fingerprint)."""
    return {"python": platform.python_version(), **package_versions(_VERSIONED)}


def fingerprint(*parts: Any) -> str:
    """Short content hash of JSON-able parts (configs, upstream fingerprints, file hashes)."""
    payload = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:20]


@dataclass
class StageOutcome:
    """What a stage produced (or found up to date): recorded in ``manifest.json``."""

    name: str
    fingerprint: str
    skipped: bool
    seconds: float
    stats: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)
    #: the stage's config (what its fingerprint hashes besides its inputs)
    config: Any = None


@dataclass
class StageContext:
    """What a stage may read: the recipe, its folder, the run folder, upstream outcomes."""

    recipe: "Recipe"
    recipe_dir: Path
    run_dir: Path
    log: Callable[[str], None]
    outcomes: dict[str, StageOutcome] = field(default_factory=dict)

    def input_path(self, path: str | Path) -> Path:
        """A path from the recipe, relative to the recipe's folder unless absolute."""
        p = Path(path)
        return p if p.is_absolute() else self.recipe_dir / p

    def artifact(self, stage: str, key: str) -> Path:
        """The path of artifact ``key`` of an upstream stage (which must have run)."""
        try:
            return Path(self.outcomes[stage].artifacts[key])
        except KeyError:
            raise KeyError(f"stage {stage!r} has no artifact {key!r}") from None

    def with_paths(self, options: dict[str, Any], keys: tuple[str, ...] = ("chat_template",)) -> dict[str, Any]:
        """``options`` with the file paths under ``keys`` made relative to the recipe (a
        value holding Jinja tags is template text, not a path)."""
        return {k: str(self.input_path(v)) if k in keys and isinstance(v, str) and "{" not in v else v
                for k, v in options.items()}

    def dataset(self, ref: str) -> Path:
        """A dataset reference of the recipe (``train``, ``medical.test``, ``synth.dpo``)
        -> the upstream artifact; anything else is a file relative to the recipe."""
        found = self.recipe.data_refs().get(ref)
        if found is None:
            return self.input_path(ref)
        stage, key = found
        path = self.artifact(stage, key)
        if not path.is_file():
            raise UserError(f"{ref}: {path} does not exist (stage {stage} wrote no {key!r} set)")
        return path


class Stage(ABC):
    """One step of a run: fingerprinted, skipped when up to date, written atomically."""

    #: the stage's folder under the run folder, and its name in logs and the manifest
    name: str

    @abstractmethod
    def config(self) -> Any:
        """The JSON-able configuration the output depends on."""

    def upstream(self) -> list[str]:
        """Names of earlier stages whose output this stage reads."""
        return []

    def input_files(self, ctx: StageContext) -> list[Path]:
        """Files outside the run folder this stage reads (hashed by content)."""
        return []

    def external(self, ctx: StageContext) -> Any:
        """Identity of what the stage reads from outside the run that is too big to hash
        (a model folder: the fingerprint of the run stage that wrote it, or its files'
        sizes and times); ``None`` when there is nothing."""
        return None

    def fingerprint(self, ctx: StageContext) -> str:
        files = [file_sha256(p) for p in self.input_files(ctx)]
        ups = [ctx.outcomes[u].fingerprint for u in self.upstream()]
        extra = self.external(ctx)
        return fingerprint(self.name, type(self).__name__, self.config(), ups, files,
                           versions().get("posttrain", ""), *([extra] if extra is not None else []))

    def describe(self) -> str:
        """One line for ``--dry-run`` plans and logs."""
        return type(self).__name__

    @abstractmethod
    def run(self, ctx: StageContext, out: Path) -> dict[str, Any]:
        """Produce the stage's output in ``out``; return ``{"stats", "artifacts"}``."""
