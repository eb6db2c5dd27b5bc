"""The data stage: read every input, run the op chain, split train/test."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import polars as pl

from ..model import DataStage
from .base import Stage, StageContext


class Data(Stage):
    """Inputs -> op chain -> ``train.parquet`` (+ ``test.parquet``) and ``rejected/``.

    A recipe's single ``data:`` section is the stage ``data``; each dataset of
    ``datasets:`` is a stage ``data.<name>`` of its own (fingerprinted apart)."""

    def __init__(self, spec: DataStage, dataset: str | None = None) -> None:
        self.spec = spec
        self.name = "data" if dataset is None else f"data.{dataset}"

    def config(self) -> Any:
        # where the chain runs does not change what it produces: no rerun for a new executor
        return self.spec.model_dump(mode="json", exclude={"executor"})

    def input_files(self, ctx: StageContext) -> list[Path]:
        return [ctx.input_path(i.path) for i in self.spec.inputs]

    def describe(self) -> str:
        ops = ", ".join(op if isinstance(op, str) else str(op.get("op")) for op in self.spec.ops)
        return f"{len(self.spec.inputs)} input(s) -> [{ops}]" + (" -> split" if self.spec.split else "")

    def run(self, ctx: StageContext, out: Path) -> dict[str, Any]:
        from ...compose import split
        from ...formats.api import iter_load, write
        from ...ops.chain import iter_apply
        from ...rejects import RejectedWriter
        from ...schemas import empty_table

        spec = self.spec

        def shards() -> Iterator[Any]:
            for source in spec.inputs:
                for shard in iter_load(ctx.input_path(source.path), source.format, strict=spec.strict):
                    if source.source is not None:
                        shard.records = shard.records.with_columns(pl.lit(source.source).alias("source"))
                    yield shard

        # Reader rejections and every op's rejections stream into rejected/, one file per
        # stage (per stage and batch on Ray), exactly as `dataforge apply` writes them.
        with RejectedWriter(out / "rejected") as rejected:
            if spec.executor.kind == "ray":
                from ...executors.ray_executor import run_files

                run = run_files(
                    [ctx.input_path(i.path) for i in spec.inputs], spec.ops, rejected,
                    formats=[i.format for i in spec.inputs], sources=[i.source for i in spec.inputs],
                    address=spec.executor.address, num_cpus=spec.executor.num_cpus, strict=spec.strict,
                )
                kept, op_stats = run.kept if run.kept is not None else empty_table(), run.stats
                for s in op_stats:  # the workers wrote the rows; the stats count them
                    if s["rows_rejected"]:
                        rejected.counts[s["op"]] = rejected.counts.get(s["op"], 0) + s["rows_rejected"]
            else:
                kept_iter, stats_of = iter_apply(shards(), spec.ops, rejected)
                frames = list(kept_iter)
                kept = pl.concat(frames, how="vertical") if frames else empty_table()
                op_stats = stats_of()
            stats: dict[str, Any] = {"ops": op_stats, "rejected": sum(rejected.counts.values()),
                                     "rejected_by_stage": dict(rejected.counts)}
        artifacts = {"rejected": "rejected"}
        parts = (
            split(kept, spec.split.test_ratio, seed=spec.split.seed, stratify=spec.split.stratify).items()
            if spec.split is not None
            else [("train", kept)]
        )
        for part_name, frame in parts:
            write(frame, out / f"{part_name}.parquet")  # canonical Parquet; a full disk names the file
            artifacts[part_name] = f"{part_name}.parquet"
            stats[f"{part_name}_rows"] = frame.height
        ctx.log(f"[{self.name}] kept {kept.height}, rejected {stats['rejected']}")
        for warning in dict.fromkeys(w for s in stats["ops"] for w in s.get("warnings", {})):
            ctx.log(f"[{self.name}] warning: {warning}")
        return {"stats": stats, "artifacts": artifacts}
