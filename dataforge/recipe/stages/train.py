"""A train stage: one trainer stage of the recipe's ``train:`` list, through ``backends``.

Output folder ``train.<name>/`` is the back end's output (``adapter/`` or ``model/``,
``curves.png``, ``log_history.jsonl``, ``summary.json``, ``stage_config.yaml``; see
docs/training.md), plus:

* ``merged/``: the adapter folded into its base, when the stage is evaluated. Evaluation
  loads plain models (the transformers engine, PPL, lm-eval, vLLM on a GPU all do), and an
  adapter trained on an adapter (DPO on SFT) is a chain only ``backends`` follows, so
  the runner merges once here rather than teaching every consumer about adapters.
* ``replay_mix.parquet``: the mixed training set, when ``replay`` is set.

A stage starts from the recipe's model (``from: base``) or an earlier stage's output
(its adapter is merged into its base in memory and a new adapter trains on top).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import polars as pl

from ...errors import UserError
from ...fileio import make_temp_dir
from ..model import BASE, Recipe, TrainStage
from .base import Stage, StageContext

#: summary.json keys copied into the stage's stats (and so into the manifest)
_SUMMARY_KEYS = ("stage", "steps", "tokens_seen", "wall_time_s", "tokens_per_s", "peak_memory_mb",
                 "stopped_early", "pairwise_accuracy", "chat_template")


def stage_folder(label: str) -> str:
    """The folder (and stage name) of train stage ``label``."""
    return f"train.{label}"


class Train(Stage):
    """Training data (+ replay) -> ``backends.train`` -> adapter, curves, summary (+ merged)."""

    def __init__(self, recipe: Recipe, index: int, merge: bool) -> None:
        self.spec: TrainStage = recipe.train[index]
        self.name = stage_folder(self.spec.label)
        self.start = recipe.stage_from(index)
        self.base_model = recipe.model
        self.data = recipe.train_data(self.spec)
        self.refs = recipe.data_refs()
        self.merge = merge

    def config(self) -> Any:
        return {"spec": self.spec.model_dump(mode="json"), "from": self.start, "data": self.data, "merge": self.merge,
                "base_model": self.base_model if self.start == BASE else None}

    def _replay_ref(self) -> str | None:
        return self.spec.replay.data if self.spec.replay is not None else None

    def upstream(self) -> list[str]:
        ups = [self.refs[r][0] for r in [*self.data, self._replay_ref()] if r in self.refs]
        if self.start != BASE:
            ups.append(stage_folder(self.start))
        return list(dict.fromkeys(ups))

    def input_files(self, ctx: StageContext) -> list[Path]:
        files = [ctx.input_path(r) for r in self.data if r not in self.refs]
        template = ctx.with_paths(self.spec.args).get("chat_template")
        if template and "{" not in template:
            files.append(Path(template))
        replay = self._replay_ref()
        if replay is not None and replay not in self.refs:
            files.append(run_dataset(ctx.input_path(replay)))
        return files

    def describe(self) -> str:
        replay = f" + replay {self._replay_ref()} ({self.spec.replay.weight:.0%})" if self.spec.replay else ""
        return (f"{self.spec.stage} ({self.spec.backend}) from {self.start} on {', '.join(self.data)}{replay}"
                + (", merged for eval" if self.merge else ""))

    def run(self, ctx: StageContext, out: Path) -> dict[str, Any]:
        import backends

        from ... import progress

        config = backends.stage_config(self.spec.stage, ctx.with_paths(self.spec.args))
        model = self.base_model if self.start == BASE else str(ctx.artifact(stage_folder(self.start), "output"))
        data = [ctx.dataset(ref) for ref in self.data]
        for ref, path in zip(self.data, data):
            if path.suffix == ".parquet" and pl.read_parquet_schema(path) and pl.scan_parquet(path).select(
                    pl.len()).collect().item() == 0:
                raise UserError(f"{self.name}: its data {ref!r} ({path}) has no records"
                                + (": best_of_k made no pairs (see the synth stage's stats: rejected reasons)"
                                   if ref.startswith("synth.") else ""))
        stats: dict[str, Any] = {}
        mix_file = None
        if self.spec.replay is not None:
            # the mix is written beside the stage folder while training reads it (a back end
            # refuses an input inside its output folder), then moved in
            mix_file = make_temp_dir(out.parent / f"{self.name}.mix") / "replay_mix.parquet"
            stats["replay"] = self._mix(ctx, data, mix_file)
            data = [mix_file]
        bar = progress.StepsBar()
        try:
            artifacts = backends.train(config, data, model, out, backend=self.spec.backend, progress=bar)
        finally:
            bar.finish()
            if mix_file is not None and mix_file.is_file():
                os.replace(mix_file, out / mix_file.name)
            if mix_file is not None:
                mix_file.parent.rmdir()
        summary = artifacts.summary
        stats.update({k: summary[k] for k in _SUMMARY_KEYS if summary.get(k) is not None})
        stats["final_metrics"] = {k: v for k, v in (summary.get("final_metrics") or {}).items()
                                  if isinstance(v, (int, float)) and ("loss" in k or "reward" in k or "accurac" in k)}
        stats["health"] = [flag["flag"] for flag in artifacts.health]
        stats["data"] = summary.get("data", {})
        found = {"output": ".", "adapter": artifacts.model_dir.name, "model": artifacts.model_dir.name}
        for key, path in (("curves", artifacts.curve_plot), ("summary", artifacts.summary_file),
                          ("log", artifacts.log_file)):
            if path is not None:
                found[key] = str(Path(path).relative_to(out))
        if mix_file is not None:
            found["replay_mix"] = mix_file.name
        if self.merge and (artifacts.model_dir / "adapter_config.json").is_file():
            backends.merge(artifacts.model_dir, out / "merged")
            found["model"] = "merged"
        ctx.log(f"[{self.name}] {summary.get('steps')} steps, final " + ", ".join(
            f"{k}={v:.4g}" for k, v in stats["final_metrics"].items()) + (
            f"; health: {', '.join(stats['health'])}" if stats["health"] else ""))
        return {"stats": stats, "artifacts": found}

    def _mix(self, ctx: StageContext, data: list[Path], target: Path) -> dict[str, Any]:
        """New records + replay records at ``replay.weight`` of the mix (every new record kept)."""
        from ...compose import mix
        from ...formats.api import read

        spec = self.spec.replay
        assert spec is not None
        new = pl.concat([read(p, strict=True) for p in data], how="vertical")
        replay_ref = spec.data
        old = read(ctx.dataset(replay_ref) if replay_ref in self.refs else run_dataset(ctx.input_path(replay_ref)),
                   strict=True)
        replayed = round(new.height * spec.weight / (1.0 - spec.weight))
        # weights in rows, so the allocation is exact: every new record once, `replayed` old ones
        result = mix({"new": new, "replay": old}, {"new": new.height, "replay": replayed},
                     size=new.height + replayed, seed=spec.seed, replace=True)
        result.mixed.write_parquet(target, compression="zstd")
        return result.stats


def run_dataset(path: Path) -> Path:
    """A replay source: a file as is; an earlier run folder -> the cleaned training split of
    its first dataset (from its manifest)."""
    if not path.is_dir():
        return path
    manifest = path / "manifest.json"
    if not manifest.is_file():
        raise UserError(f"{path} is a folder but not a run folder of `dataforge run` (no manifest.json)")
    for stage in json.loads(manifest.read_text(encoding="utf-8")).get("stages", []):
        if stage["name"] == "data" or stage["name"].startswith("data."):
            train = stage.get("artifacts", {}).get("train")
            if train and Path(train).is_file():
                return Path(train)
    raise UserError(f"{path}: the run has no cleaned training split (data/train.parquet) to replay")
