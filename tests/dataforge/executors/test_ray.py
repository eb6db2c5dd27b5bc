"""The Ray executor against the local one, on a real local Ray runtime (no mocks).

Both executors run the same chains over the shipped messy sample and a synthetic
20k-record corpus (bench/scale_corpus.py: exact and near copies, PII, broken lines); the kept
ids, the rejected ids with stage and reason, and every stage's row counts must be equal,
and rows in = kept + rejected. A worker process killed in the middle of a job (Ray
retries its task) must not change the output. Details of rejections may differ (the
local executor says "(earlier shard)", the Ray one names the LSH cluster): who was
removed, where and why may not.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import sys
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from dataforge.cli.app import app
from dataforge.cli.main import _load_commands
from dataforge.errors import UserError
from dataforge.executors import apply
from dataforge.executors.ray_executor import run_files
from dataforge.executors.ray_runtime import RayUnavailableError
from dataforge.formats.api import LoadResult, iter_load, load, merge_stats
from dataforge.ops.base import Operator, OpConfig, OpResult
from dataforge.rejects import RejectedWriter, read_rejected, rejected_folder
from dataforge.schemas import empty_rejected, from_dicts, message

pytestmark = pytest.mark.slow  # a Ray runtime and several jobs: minutes, not seconds

REPO = Path(__file__).resolve().parents[3]
MESSY = REPO / "recipes" / "data" / "messy.jsonl"
MESSY_CHAIN = [
    "normalize", "filter.role_order", "filter.empty_turns", "filter.placeholders", "dedup.exact",
    "dedup.near:threshold=0.7", f"decontaminate:eval_set={REPO / 'recipes' / 'data' / 'messy_eval.jsonl'}",
    "template.lint:max_seq_len=512", "pii.mask",
]
CORPUS_CHAIN = ["normalize", "filter.placeholders", "dedup.exact", "dedup.near", "pii.mask"]
_load_commands()


def _cli(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


def _corpus_module():
    spec = importlib.util.spec_from_file_location("scale_corpus", REPO / "bench" / "scale_corpus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[Path]:
    """20k synthetic records in two JSON Lines files (read as one input, in order)."""
    lines = _corpus_module().make_corpus(20_000, seed=7)
    folder = tmp_path_factory.mktemp("corpus")
    halves = [folder / "part-1.jsonl", folder / "part-2.jsonl"]
    halves[0].write_text("\n".join(lines[:10_000]) + "\n", encoding="utf-8")
    halves[1].write_text("\n".join(lines[10_000:]) + "\n", encoding="utf-8")
    return halves


def _chain_args(chain: list[str]) -> list[str]:
    return [a for spec in chain for a in ("--op", spec)]


def _outcome(kept: pl.DataFrame, rejected: pl.DataFrame) -> tuple[list, list]:
    """What must not depend on the executor: kept ids; rejected (id, stage, reason, file, row)."""
    rows = rejected.select(
        pl.col("id").fill_null(""), "stage", "reason", pl.col("source_file").fill_null(""),
        pl.col("source_row").fill_null(0),
    ).rows()
    return sorted(kept["id"].to_list()), sorted(rows)


def _same_stats(ray_stats: list[dict], local_stats: list[dict]) -> None:
    assert [s["op"] for s in ray_stats] == [s["op"] for s in local_stats]
    for mine, theirs in zip(ray_stats, local_stats):
        for key in ("rows_in", "rows_kept", "rows_rejected", "reasons"):
            assert mine[key] == theirs[key], (mine["op"], key)


def _local_then_ray(inputs: list[Path], out_dir: Path, chain: list[str]) -> tuple[tuple, tuple, list, list]:
    """The same `dataforge apply` with both executors: (local outcome, ray outcome, stats...)."""
    results = []
    for executor in ("local", "ray"):
        out = out_dir / (f"{executor}.parquet" if executor == "local" else executor)
        stats = out_dir / f"{executor}.stats.json"
        res = _cli("apply", *inputs, out, "--executor", executor, "--stats-json", stats, *_chain_args(chain))
        assert res.exit_code == 0, res.output
        kept = pl.read_parquet(out if executor == "local" else f"{out}/*.parquet")
        rejected = read_rejected(rejected_folder(out))
        results.append((_outcome(kept, rejected), json.loads(stats.read_text("utf-8")), kept, rejected))
    (local, local_stats, *_), (ray, ray_stats, kept, rejected) = results
    return local, ray, local_stats, ray_stats


def test_messy_sample_same_result_on_ray(ray_local, tmp_path):
    local, ray, local_stats, ray_stats = _local_then_ray([MESSY], tmp_path, MESSY_CHAIN)
    assert ray == local
    kept_ids, rejected_rows = ray
    assert len(kept_ids) == 12 and len(rejected_rows) == 15  # the sample's known answer
    assert len(MESSY.read_text("utf-8").splitlines()) == len(kept_ids) + len(rejected_rows)
    _same_stats(ray_stats, local_stats)


def test_synthetic_corpus_from_a_glob_same_result_on_ray(ray_local, corpus, tmp_path):
    """Against the local executor's one pass over both files, and against the local
    executor streaming the files shard by shard (which can differ only where a later record
    bridges two clusters it already kept: docs/scale.md; none in this corpus)."""
    out, stats = tmp_path / "ray", tmp_path / "ray.stats.json"
    res = _cli("apply", str(corpus[0].parent / "part-*.jsonl"), out, "--executor", "ray", "--stats-json", stats,
               *_chain_args(CORPUS_CHAIN))
    assert res.exit_code == 0, res.output
    kept, rejected = pl.read_parquet(f"{out}/*.parquet"), read_rejected(rejected_folder(out))
    streamed = tmp_path / "local.parquet"
    res = _cli("apply", str(corpus[0].parent / "part-*.jsonl"), streamed, "--shard-rows", "4000",
               *_chain_args(CORPUS_CHAIN))
    assert res.exit_code == 0, res.output
    assert _outcome(kept, rejected) == _outcome(pl.read_parquet(streamed), read_rejected(rejected_folder(streamed)))
    files = [load(path) for path in corpus]
    one_pass = LoadResult(pl.concat([f.records for f in files]), pl.concat([f.rejected for f in files]),
                          "sharegpt", merge_stats([f.stats for f in files]))
    local = apply([one_pass], CORPUS_CHAIN)
    assert _outcome(kept, rejected) == _outcome(local.kept, local.rejected)
    kept_ids, rejected_rows = _outcome(kept, rejected)
    assert len(kept_ids) + len(rejected_rows) == 20_000
    reasons = {reason for _, _, reason, _, _ in rejected_rows}
    assert {"invalid_json", "role_order", "placeholder", "exact_duplicate", "near_duplicate"} <= reasons
    _same_stats(json.loads(stats.read_text("utf-8")), local.stats)
    # the output is canonical Parquet parts with the PII masked
    parts = sorted(out.glob("part-*.parquet"))
    assert len(parts) > 1
    text = pl.read_parquet(parts).select(pl.col("messages").list.eval(pl.element().struct.field("content")).list.join("\n"))
    joined = "\n".join(text.to_series().to_list())
    assert "@example.c" not in joined and "<EMAIL>" in joined and "<PHONE>" in joined


class _DieOnce(Operator):
    """Kills its own worker process the first time it sees record ``victim`` (test op):
    the task dies mid-job and Ray must run it again. ``marker`` remembers the kill."""

    name = "test.die_once"

    class Config(OpConfig):
        marker: str
        victim: str

    def process(self, records: pl.DataFrame) -> OpResult:
        marker = Path(self.config.marker)
        if self.config.victim in records["id"].to_list() and not marker.exists():
            marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return OpResult(records, empty_rejected(), {})


def test_worker_killed_mid_job_gives_the_same_output(ray_local, corpus, tmp_path):
    """The keys are shuffled across the cluster here (driver_rows=0), and near duplicates
    are verified against their signatures (Ray joins) and survive by length."""
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    source = tmp_path / "3k.jsonl"
    source.write_text("".join(corpus[0].read_text("utf-8").splitlines(keepends=True)[:3000]), encoding="utf-8")
    marker = tmp_path / "killed"
    chain = ["normalize", "filter.placeholders", "dedup.exact",
             _DieOnce(marker=str(marker), victim="r1500"), "dedup.near:verify=true,keep=longest", "pii.mask"]
    marker.touch()  # the local run must not kill the test process
    local = apply(list(iter_load(source, shard_bytes=None)), chain)  # one shard: one pass, as Ray
    marker.unlink()
    out = tmp_path / "out"
    with RejectedWriter(rejected_folder(out)) as sink:
        run = run_files([source], chain, sink, output=out, driver_rows=0)
    assert marker.exists()  # a worker really died
    kept = pl.read_parquet(f"{out}/*.parquet")
    assert _outcome(kept, read_rejected(rejected_folder(out))) == _outcome(local.kept, local.rejected)
    assert kept.sort("id").equals(local.kept.sort("id"))  # the records themselves too
    _same_stats(run.stats, local.stats)
    assert not list(out.glob(".partial-*")) and not list(rejected_folder(out).glob(".partial-*"))


class _FirstOfSource(Operator):
    """Keep the first record of each source, remembering sources across shards (test op,
    scope stream, no distributed version: the Ray executor runs it in the driver)."""

    name = "test.first_of_source"
    scope = "stream"

    def __init__(self, config=None, **params) -> None:
        super().__init__(config, **params)
        self.seen: set[str] = set()

    def process(self, records: pl.DataFrame) -> OpResult:
        first = records.select((pl.int_range(pl.len()).over("source") == 0).alias("first"))["first"]
        seen = records["source"].is_in(list(self.seen))
        self.seen |= set(records["source"].to_list())
        return self.split(records, ~first | seen, reason="not_first")


def test_python_api_runs_stream_ops_without_a_distributed_version(ray_local):
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    rows = [{"id": f"r{i}", "source": "abc"[i % 3], "messages": [message("user", f"问题 {i % 5}"), message("assistant", "答")]}
            for i in range(30)]
    shards = [from_dicts(rows[:12]), from_dicts(rows[12:])]
    local = apply(shards, ["normalize", "dedup.exact", _FirstOfSource(), "pii.mask"])
    on_ray = apply(shards, ["normalize", "dedup.exact", _FirstOfSource(), "pii.mask"], executor="ray")
    assert on_ray.kept["id"].to_list() == local.kept["id"].to_list() == ["r0", "r1", "r2"]
    assert _outcome(on_ray.kept, on_ray.rejected) == _outcome(local.kept, local.rejected)
    _same_stats(on_ray.stats, local.stats)


def test_recipe_data_stage_on_ray(ray_local, tmp_path):
    recipe = tmp_path / "recipe.yaml"
    base = {"name": "scale", "data": {"inputs": [{"path": str(MESSY)}], "ops": MESSY_CHAIN[:6],
                                      "split": {"test_ratio": 0.25, "seed": 1}}}
    outputs = {}
    for kind in ("local", "ray"):
        spec = {**base, "data": {**base["data"], "executor": {"kind": kind}}}
        recipe.write_text(json.dumps(spec), encoding="utf-8")
        res = _cli("run", recipe, "--runs-dir", tmp_path / kind)
        assert res.exit_code == 0, res.output
        data = tmp_path / kind / "scale" / "data"
        outputs[kind] = [pl.read_parquet(data / f"{p}.parquet")["id"].to_list() for p in ("train", "test")]
        outputs[kind].append(sorted(read_rejected(data / "rejected")["reason"].to_list()))
        parts = [p.name for p in (data / "rejected").glob("*.parquet") if re.search(r"\.[0-9a-f]{16}\.parquet$", p.name)]
        assert bool(parts) is (kind == "ray")  # Ray tasks wrote the rejected rows in parts
    assert outputs["ray"] == outputs["local"]


def test_a_refusal_inside_a_task_is_one_line(ray_local, tmp_path):
    """--strict stops at the broken line of the messy sample inside a Ray read task: the
    user sees our one-line refusal, not Ray's wrapped traceback, and no output is left."""
    out = tmp_path / "out"
    res = _cli("apply", MESSY, out, "--op", "normalize", "--executor", "ray", "--strict")
    assert res.exit_code == 2, res.output
    assert f"{MESSY}:13: invalid_json" in res.output and "Failed to apply" not in res.output
    assert "Traceback" not in res.output and not out.exists() and not rejected_folder(out).exists()


def test_unreachable_address_is_a_one_line_error(tmp_path):
    out = tmp_path / "out"
    res = _cli("apply", MESSY, out, "--op", "normalize", "--executor", "ray", "--ray-address", "127.0.0.1:1")
    assert res.exit_code == 2, res.output
    assert "cannot reach a Ray cluster at 127.0.0.1:1" in res.output and "Traceback" not in res.output
    assert not out.exists() and not rejected_folder(out).exists()
    with pytest.raises(RayUnavailableError, match="not host:port"):
        apply(from_dicts([{"messages": [message("user", "hi")]}]), ["normalize"], executor="ray", address="nowhere")


def test_missing_ray_names_the_extra(monkeypatch, tmp_path):
    for name in ("ray", "ray.data"):
        monkeypatch.setitem(sys.modules, name, None)  # `import ray` now fails, as without the extra
    res = _cli("apply", MESSY, tmp_path / "out", "--op", "normalize", "--executor", "ray")
    assert res.exit_code == 2 and "pip install 'posttrain[ray]'" in res.output
    with pytest.raises(UserError, match=r"posttrain\[ray\]"):
        apply(from_dicts([{"messages": [message("user", "hi")]}]), ["normalize"], executor="ray")
