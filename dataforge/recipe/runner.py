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
from pathlib import Path
from typing import Any, Callable

import polars as pl

from ..fileio import file_sha256, package_versions, write_json_atomic
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


def _fingerprint(*parts: Any) -> str:
    payload = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:20]


def _versions() -> dict[str, str]:
    return {"python": platform.python_version(), **package_versions(_VERSIONED)}


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
                                    self._artifact_paths(final, done))
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
        return StageOutcome(name, fingerprint, False, seconds, result.get("stats", {}),
                            self._artifact_paths(final, result))

    @staticmethod
    def _artifact_paths(stage_dir: Path, result: dict[str, Any]) -> dict[str, str]:
        """Stage results name artifacts relative to the stage folder; callers get paths."""
        return {k: str(stage_dir / v) for k, v in result.get("artifacts", {}).items()}

    def _input_path(self, path: str) -> Path:
        p = Path(path)
        return p if p.is_absolute() else (self.recipe_dir / p)

    # -- data ---------------------------------------------------------------------

    def _data_fingerprint(self) -> str:
        stage = self.recipe.data
        digests = [file_sha256(self._input_path(i.path)) for i in stage.inputs]
        return _fingerprint("data", stage.model_dump(mode="json"), digests,
                            _versions().get("posttrain", ""))

    def _run_data(self, out: Path) -> dict[str, Any]:
        from dataforge.formats.api import iter_load
        from dataforge.compose import split
        from dataforge.ops.chain import RejectedWriter, iter_apply
        from dataforge.schemas import empty_table

        stage = self.recipe.data

        def shards() -> Any:
            for spec in stage.inputs:
                for shard in iter_load(self._input_path(spec.path), spec.format, strict=stage.strict):
                    if spec.source is not None:
                        shard.records = shard.records.with_columns(pl.lit(spec.source).alias("source"))
                    yield shard

        # Reader rejections and every op's rejections stream into rejected/, one file per
        # stage, exactly as `dataforge apply` writes them.
        with RejectedWriter(out / "rejected") as rejected:
            kept_iter, op_stats = iter_apply(shards(), stage.ops, rejected)
            frames = list(kept_iter)
            kept = pl.concat(frames, how="vertical") if frames else empty_table()
            stats: dict[str, Any] = {"ops": op_stats(), "rejected": sum(rejected.counts.values()),
                                     "rejected_by_stage": dict(rejected.counts)}
        artifacts = {"rejected": "rejected"}
        parts = (
            split(kept, stage.split.test_ratio, seed=stage.split.seed, stratify=stage.split.stratify).items()
            if stage.split is not None
            else [("train", kept)]
        )
        for part_name, frame in parts:
            frame.write_parquet(out / f"{part_name}.parquet", compression="zstd")
            artifacts[part_name] = f"{part_name}.parquet"
            stats[f"{part_name}_rows"] = frame.height
        self.log(f"[data] kept {kept.height}, rejected {stats['rejected']}")
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
        upstream = data.fingerprint if on in ("test", "train") else file_sha256(self._input_path(on))
        return _fingerprint("eval", self.recipe.eval.model_dump(mode="json"),
                            self.recipe.eval.model or self.recipe.model, upstream,
                            _versions().get("posttrain", ""))

    def _run_eval(self, out: Path) -> dict[str, Any]:
        from dataforge.synth.engines.base import GenerationParams
        from evalkit.run import GenerationConfig, evaluate

        spec = self.recipe.eval
        assert spec is not None
        target = self._eval_target()
        if not target.is_file():
            raise FileNotFoundError(
                f"eval.data={spec.data!r}: {target} does not exist"
                + (" (add `split:` to the data stage)" if spec.data == "test" else "")
            )
        if spec.limit is not None:
            limited = out / "eval_items.parquet"
            pl.read_parquet(target).head(spec.limit).write_parquet(limited)
            target = limited
        gen = spec.generation
        run = evaluate(
            spec.model or self.recipe.model,
            data=target,
            metrics=spec.metrics,
            metric_params=spec.metric_params,
            generation=GenerationConfig(
                engine=spec.engine,
                params=GenerationParams(max_new_tokens=gen.max_new_tokens, temperature=gen.temperature,
                                        top_p=gen.top_p, seed=gen.seed),
                engine_options={"batch_size": gen.batch_size},
                cache=spec.cache,
                cache_path=str(self._input_path(spec.cache_path)) if spec.cache_path else None,
            ),
            output=out / "run",
        )
        scores = {name: m.get("score") for name, m in run.metrics.items()}
        self.log("[eval] " + ", ".join(
            f"{k}={v:.4g}" if isinstance(v, (int, float)) else f"{k}=n/a" for k, v in scores.items()))
        return {"stats": {"metrics": scores, "rows": run.predictions.height},
                "artifacts": {"run": "run"}}
