"""The Ray executor: the same op chain on Ray Data, on a local runtime or a cluster.

Plan of a run (each piece in its own module):

1. **read** (:mod:`.ray_io`): input files cut into splits (:mod:`dataforge.formats.splits`),
   one read task each, converted by the same code as ``iter_load``; reader rejections
   are written by the tasks.
2. **ops**, in chain order: consecutive batch-scope ops as one ``map_batches`` step
   (:mod:`.ray_steps`); ``dedup.exact`` / ``dedup.near`` as shuffles of small keys
   (:mod:`.ray_dedup`); any other stream/global op in the driver, rows in input order.
3. **write**: kept rows as canonical Parquet parts (``part-<first _ord>.parquet``) into
   the output folder, or back to the caller (Python API); rejected rows are already in
   ``<out stem>.rejected/`` as ``NN-<stage>.<part>.parquet``; per-op stats are merged
   from the tasks' stats files with the local executor's rules, in chain order.

Each output folder is written under a temporary name and put in place when the run
succeeds (``dataforge.fileio.commit_folder``), so a failed run leaves nothing half-done.
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import polars as pl
import pyarrow as pa
import pyarrow.compute  # noqa: F401 - pa.compute

from ..errors import ConfigError, UserError
from ..fileio import commit_folder, make_temp_dir
from ..formats.api import SHARD_BYTES, SHARD_ROWS
from ..formats.splits import TARGET_BYTES, FileSplit, count_newlines, number_lines, plan_splits
from ..ops.base import Operator
from ..ops.specs import OpSpec, build_ops
from ..ops.stats import StatsBook
from ..outputs import mark_folder
from ..rejects import RejectedWriter, read_rejected
from ..schemas.record import empty_table
from .base import ChainResult
from .ray_dedup import DISTRIBUTED, ShufflePlan
from .ray_io import ORD, RunFolders, collect_stats, frames_dataset, read_splits, remove_partials, write_kept
from .ray_runtime import ray_runtime
from .ray_steps import run_batch_ops, run_on_driver


@dataclass(frozen=True)
class FileInputs:
    """Input files (their formats and ``source`` overrides), split once the cluster is known."""

    files: tuple[Path, ...]
    formats: tuple[str | None, ...]
    sources: tuple[str | None, ...]

    def splits(self, ray: Any, workers: int) -> list[FileSplit]:
        """About four splits per worker (at most 64 MiB each), line-numbered in parallel."""
        total = sum(f.stat().st_size for f in self.files)
        target = min(TARGET_BYTES, max(1 << 20, total // (4 * workers)))
        splits = plan_splits(list(self.files), self.formats, self.sources, target_bytes=target)
        if not any(s.kind == "jsonl" and s.start > 0 for s in splits):
            return splits
        count = ray.remote(count_newlines)
        counts = ray.get([count.remote(s) if s.kind == "jsonl" else ray.put(0) for s in splits])
        return number_lines(splits, counts)


@dataclass
class RayRun:
    """What a run produced besides its files."""

    stats: list[dict[str, Any]]
    rows_kept: int
    kept: pl.DataFrame | None = None  #: the kept rows, in input order, when no output folder was given


@contextmanager
def _data_context() -> Iterator[None]:
    """Ray Data settings for the run, restored afterwards (the caller's process keeps its own).

    Ray Data's own log lines stay in its session log file but leave the console: a
    refusal (a bad row under ``--strict``) is one line, and a bug's traceback comes with
    the exception itself.
    """
    from ray.data.context import DataContext, ShuffleStrategy

    ctx = DataContext.get_current()
    saved = ctx.shuffle_strategy, ctx.enable_progress_bars
    # a keyed repartition puts every row of a key in one block only under the hash shuffle
    ctx.shuffle_strategy = ShuffleStrategy.HASH_SHUFFLE
    ctx.enable_progress_bars = sys.stderr.isatty()
    console = [h for h in logging.getLogger("ray.data").handlers
               if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)]
    levels = [h.level for h in console]
    for handler in console:
        handler.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        ctx.shuffle_strategy, ctx.enable_progress_bars = saved
        for handler, level in zip(console, levels):
            handler.setLevel(level)


def _user_error_in(exc: BaseException) -> UserError | None:
    """The toolkit's refusal inside an exception Ray raised for a failed task, if any
    (Ray's wrapper derives from the refusal's class too, with its own long message: the
    original is its ``cause``)."""
    from ray.exceptions import RayError

    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, UserError) and not isinstance(item, RayError):
            return item
        stack += [getattr(item, "cause", None), item.__cause__, item.__context__]
    return None


def _run_ops(ds: Any, ops: Sequence[Operator], folders: RunFolders, shuffle: ShufflePlan, shard_rows: int) -> Any:
    position = 1
    while position <= len(ops):
        op = ops[position - 1]
        if op.scope == "batch":
            group = []
            while position <= len(ops) and ops[position - 1].scope == "batch":
                group.append((position, ops[position - 1]))
                position += 1
            ds = ds.map_batches(run_batch_ops, fn_kwargs={"ops": group, "folders": folders},
                                batch_format="pyarrow", batch_size=None)
            continue
        distributed = DISTRIBUTED.get(type(op))
        if distributed is not None:
            ds = distributed(ds, position, op, folders, shuffle)
        else:
            ds = run_on_driver(ds, position, op, folders, shard_rows)
        position += 1
    return ds


def _stats(folders: RunFolders, ops: Sequence[Operator]) -> list[dict[str, Any]]:
    """Stats in chain order; an op that received no rows is run on none, as locally."""
    book, seen = collect_stats(folders.stats)
    stages = [s for key, s in book.stages.items() if key.startswith("read:")]
    for position, op in enumerate(ops, start=1):
        key = f"{position}:{op.name}"
        if position not in seen or "op" not in book.stages.get(key, {}):
            empty = StatsBook()
            empty.add(key, type(op)(op.config)(empty_table()).stats, op.report_once)
            empty.add(key, book.stages.get(key, {}), op.report_once)
            book.stages[key] = empty.stages[key]
        stages.append(book.stages[key])
    return stages


def _execute(ray: Any, source: Any, ops: Sequence[Operator], folders: RunFolders, *,
             strict: bool, shard_rows: int, shard_bytes: int, driver_rows: int) -> tuple[int, pl.DataFrame | None]:
    """Run the plan; (rows kept, the kept rows when they come back to the driver)."""
    workers = max(2, int(ray.cluster_resources().get("CPU", 2)))
    if isinstance(source, FileInputs):
        ds = read_splits(source.splits(ray, workers), folders, strict=strict, shard_rows=shard_rows,
                         shard_bytes=shard_bytes)
    else:
        ds = frames_dataset(source, folders)
    ds = _run_ops(ds, ops, folders, ShufflePlan(workers, driver_rows), shard_rows)
    if folders.kept is not None:
        written = ds.map_batches(write_kept, fn_kwargs={"folder": folders.kept}, batch_format="pyarrow")
        counts = [t.column("rows") for t in ray.get(written.to_arrow_refs()) if t.num_rows]
        return sum(int(pa.compute.sum(c).as_py()) for c in counts), None
    tables = [t for t in ray.get(ds.to_arrow_refs()) if t.num_rows]
    if not tables:
        return 0, empty_table()
    kept = pl.concat([pl.from_arrow(t) for t in tables]).sort(ORD).drop(ORD)
    return kept.height, kept


def run(
    source: FileInputs | Sequence[Any], ops: OpSpec | Sequence[OpSpec], folders: RunFolders, *,
    address: str | None = None, num_cpus: int | None = None, strict: bool = False,
    shard_rows: int = SHARD_ROWS, shard_bytes: int = SHARD_BYTES, driver_rows: int = ShufflePlan.driver_rows,
) -> RayRun:
    """Run ``ops`` over files (or in-memory frames) into ``folders``. Dedup keys are
    shuffled across the cluster from ``driver_rows`` key rows up (below, grouped on the
    driver: the same decisions, without a shuffle's fixed cost)."""
    built = build_ops(ops)  # a typo fails before Ray starts
    with ray_runtime(address, num_cpus) as ray:
        try:
            with _data_context():
                rows, kept = _execute(ray, source, built, folders, strict=strict, shard_rows=shard_rows,
                                      shard_bytes=shard_bytes, driver_rows=driver_rows)
        except Exception as exc:
            refusal = _user_error_in(exc)
            if refusal is not None:
                # Ray Data appends its retry advice to the message; the refusal is ours alone
                refusal.args = (str(refusal).split("\nFailed to apply", 1)[0], *refusal.args[1:])
                raise refusal from None
            raise
    for folder in (folders.rejected, folders.kept):
        if folder is not None:
            remove_partials(folder)
    return RayRun(_stats(folders, built), rows, kept)


@contextmanager
def _work_folder(beside: Path | None) -> Iterator[Path]:
    """A temporary folder for the tasks' stats (beside the output, so every node sees it)."""
    folder = make_temp_dir(beside) if beside is not None else Path(tempfile.mkdtemp(prefix="dataforge-ray-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_files(
    inputs: Sequence[Path], ops: OpSpec | Sequence[OpSpec], rejected: RejectedWriter, *,
    output: Path | None = None, formats: Sequence[str | None] | None = None,
    sources: Sequence[str | None] | None = None, overwrite: bool = False, command: str = "",
    address: str | None = None, num_cpus: int | None = None, strict: bool = False,
    shard_rows: int = SHARD_ROWS, shard_bytes: int = SHARD_BYTES, driver_rows: int = ShufflePlan.driver_rows,
) -> RayRun:
    """Read ``inputs`` in parallel, run ``ops``, write kept rows as a folder of Parquet
    parts at ``output`` (or return them when ``output`` is None) and rejected rows into
    ``rejected`` (closed by the caller, like every ``RejectedWriter``)."""
    build_ops(ops)
    n = len(inputs)
    source = FileInputs(tuple(inputs), tuple(formats or [None] * n), tuple(sources or [None] * n))
    kept_tmp = make_temp_dir(output) if output is not None else None
    if kept_tmp is not None:
        mark_folder(kept_tmp, command)
    try:
        with _work_folder(output) as work:
            folders = RunFolders(str(rejected.parts_folder()), str(work), str(kept_tmp) if kept_tmp else None)
            result = run(source, ops, folders, address=address, num_cpus=num_cpus, strict=strict,
                         shard_rows=shard_rows, shard_bytes=shard_bytes, driver_rows=driver_rows)
    except BaseException:
        if kept_tmp is not None:
            shutil.rmtree(kept_tmp, ignore_errors=True)
        raise
    if kept_tmp is not None and output is not None:
        commit_folder(kept_tmp, output, command=command, overwrite=overwrite)
    return result


def apply(
    df_or_shards: Any, ops: OpSpec | Sequence[OpSpec], *, address: str | None = None,
    num_cpus: int | None = None, shard_rows: int = SHARD_ROWS, driver_rows: int = ShufflePlan.driver_rows,
) -> ChainResult:
    """The Python API on Ray: frames or ``LoadResult``s in, everything back in memory."""
    frames = (pl.DataFrame, pl.LazyFrame)
    items = [df_or_shards] if isinstance(df_or_shards, frames) else list(df_or_shards)
    if not all(isinstance(i, frames) or hasattr(i, "rejected") for i in items):
        raise ConfigError("apply(..., executor='ray') takes a DataFrame, DataFrames or LoadResults")
    with _work_folder(None) as work:
        (work / "rejected").mkdir()
        (work / "stats").mkdir()
        folders = RunFolders(str(work / "rejected"), str(work / "stats"))
        result = run(items, ops, folders, address=address, num_cpus=num_cpus, shard_rows=shard_rows,
                     driver_rows=driver_rows)
        rejected = read_rejected(work / "rejected")
    kept = result.kept if result.kept is not None else empty_table()
    return ChainResult(kept=kept, rejected=rejected, stats=result.stats)


__all__ = ["FileInputs", "RayRun", "apply", "run", "run_files"]
