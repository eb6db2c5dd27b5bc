"""Run a recipe: stages data -> eval into ``runs/<name>/``, resumable and atomic.

Each stage has a fingerprint: the hash of its own config, the fingerprints of what it
reads (input file contents, or the upstream stage) and the toolkit version. A stage whose
folder holds a ``_stage.json`` with the same fingerprint is skipped, so a run killed
halfway resumes at the stage it was in. A stage writes into a temporary sibling folder
and renames it into place when it is complete: a killed stage leaves no half output.

The runner composes dataforge and evalkit (evalkit is imported only by the eval stage),
so neither of them depends on the other.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Callable

import polars as pl

from .model import Recipe

STAGE_FILE = "_stage.json"
_VERSIONED = ("posttrain", "polars", "pyarrow", "datasketch", "presidio-analyzer",
              "torch", "transformers", "sacrebleu", "bert-score")


@dataclass
class StageOutcome:
    name: str
    fingerprint: str
    skipped: bool
    seconds: float
    stats: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fingerprint(*parts: Any) -> str:
    payload = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:20]


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def write_json_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, ensure_ascii=False, default=str)
    os.replace(tmp, path)


class RecipeRunner:
    """Runs one recipe into ``<runs_dir>/<recipe.name>/``."""

    def __init__(self, recipe: Recipe, recipe_dir: Path, runs_dir: Path | str = "runs",
                 log: Callable[[str], None] = print) -> None:
        self.recipe = recipe
        self.recipe_dir = recipe_dir
        self.run_dir = Path(runs_dir) / recipe.name
        self.log = log

    # -- public -------------------------------------------------------------------

    def run(self, force: bool = False) -> list[StageOutcome]:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        outcomes = [self._stage("data", self._data_fingerprint(), self._run_data, force)]
        if self.recipe.eval is not None:
            outcomes.append(
                self._stage("eval", self._eval_fingerprint(outcomes[0]), self._run_eval, force)
            )
        write_json_atomic(
            self.run_dir / "manifest.json",
            {
                "recipe": self.recipe.model_dump(mode="json"),
                "recipe_dir": str(self.recipe_dir),
                "versions": _versions(),
                "stages": [o.__dict__ for o in outcomes],
                "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
        )
        return outcomes

    # -- stage machinery ----------------------------------------------------------

    def _stage(self, name: str, fingerprint: str, body: Callable[[Path], dict[str, Any]],
               force: bool) -> StageOutcome:
        final = self.run_dir / name
        marker = final / STAGE_FILE
        if not force and marker.is_file():
            done = json.loads(marker.read_text(encoding="utf-8"))
            if done.get("fingerprint") == fingerprint:
                self.log(f"[{name}] up to date ({fingerprint}), skipped")
                return StageOutcome(name, fingerprint, True, 0.0, done.get("stats", {}),
                                    done.get("artifacts", {}))
        self.log(f"[{name}] running ({fingerprint})")
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=self.run_dir))
        start = time.perf_counter()
        try:
            result = body(tmp)
            seconds = time.perf_counter() - start
            write_json_atomic(tmp / STAGE_FILE, {"fingerprint": fingerprint, "seconds": seconds,
                                                 **result})
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        artifacts = {k: str(final / v) for k, v in result.get("artifacts", {}).items()}
        return StageOutcome(name, fingerprint, False, seconds, result.get("stats", {}), artifacts)

    def _input_path(self, path: str) -> Path:
        p = Path(path)
        return p if p.is_absolute() else (self.recipe_dir / p)

    # -- data ---------------------------------------------------------------------

    def _data_fingerprint(self) -> str:
        stage = self.recipe.data
        digests = [file_digest(self._input_path(i.path)) for i in stage.inputs]
        return _fingerprint("data", stage.model_dump(mode="json"), digests,
                            _versions().get("posttrain", ""))

    def _run_data(self, out: Path) -> dict[str, Any]:
        from dataforge.formats.api import iter_load
        from dataforge.ops.chain import apply

        stage = self.recipe.data
        kept: list[pl.DataFrame] = []
        rejected: list[pl.DataFrame] = []
        read_stats: list[dict[str, Any]] = []
        for spec in stage.inputs:
            path = self._input_path(spec.path)
            for shard in iter_load(path, spec.format, strict=stage.strict):
                records = shard.records
                if spec.source is not None:
                    records = records.with_columns(pl.lit(spec.source).alias("source"))
                kept.append(records)
                rejected.append(shard.rejected)
                read_stats.append({"file": str(path), "format": shard.format, **shard.stats})
        records = pl.concat(kept, how="vertical") if kept else None
        chain = apply(records, stage.ops)
        rejected.append(chain.rejected)
        all_rejected = pl.concat([r for r in rejected if r.height], how="vertical") if any(
            r.height for r in rejected) else chain.rejected.clear()
        artifacts = {}
        stats: dict[str, Any] = {"read": read_stats, "ops": chain.stats,
                                 "rejected": all_rejected.height}
        if stage.split is not None:
            from dataforge.compose import split

            parts = split(chain.kept, test_ratio=stage.split.test_ratio, seed=stage.split.seed,
                          stratify=stage.split.stratify)
            for part_name, frame in parts.items():
                frame.write_parquet(out / f"{part_name}.parquet", compression="zstd")
                artifacts[part_name] = f"{part_name}.parquet"
                stats[f"{part_name}_rows"] = frame.height
        else:
            chain.kept.write_parquet(out / "train.parquet", compression="zstd")
            artifacts["train"] = "train.parquet"
            stats["train_rows"] = chain.kept.height
        all_rejected.write_parquet(out / "rejected.parquet", compression="zstd")
        artifacts["rejected"] = "rejected.parquet"
        self.log(f"[data] kept {chain.kept.height}, rejected {all_rejected.height}")
        return {"stats": stats, "artifacts": artifacts}

    # -- eval ---------------------------------------------------------------------

    def _eval_target(self) -> Path:
        assert self.recipe.eval is not None
        on = self.recipe.eval.data
        if on in ("test", "train"):
            return self.run_dir / "data" / f"{on}.parquet"
        return self._input_path(on)

    def _eval_fingerprint(self, data: StageOutcome) -> str:
        assert self.recipe.eval is not None
        on = self.recipe.eval.data
        upstream = data.fingerprint if on in ("test", "train") else file_digest(self._input_path(on))
        return _fingerprint("eval", self.recipe.eval.model_dump(mode="json"),
                            self.recipe.eval.model or self.recipe.model, upstream)

    def _run_eval(self, out: Path) -> dict[str, Any]:
        from evalkit.run import evaluate

        spec = self.recipe.eval
        assert spec is not None
        target = self._eval_target()
        if not target.is_file():
            raise FileNotFoundError(
                f"eval.data={spec.data!r}: {target} does not exist"
                + (" (add `split:` to the data stage)" if spec.data == "test" else "")
            )
        data = pl.read_parquet(target)
        if spec.limit is not None:
            data = data.head(spec.limit)
        run = evaluate(
            data=data,
            model=spec.model or self.recipe.model,
            metrics=spec.metrics,
            metric_params=spec.metric_params,
            engine=spec.engine,
            generation=spec.generation.model_dump(),
            output_dir=out / "run",
        )
        scores = {name: m["score"] for name, m in run.metrics.items()}
        self.log("[eval] " + ", ".join(f"{k}={v:.4g}" for k, v in scores.items()))
        return {"stats": {"metrics": scores, "rows": data.height}, "artifacts": {"run": "run"}}
