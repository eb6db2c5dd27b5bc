"""An eval run: generate answers for an eval set, score them, write the run folder.

``evaluate(model, data, metrics)`` is the whole loop and what ``evalkit run`` calls:

1. read the eval set as canonical records; each record's prompt is its ``messages`` minus
   the final assistant turn, whose content is the reference answer. A prompt-only record
   (last turn a user turn or tool results) has no reference and is scored by the
   reference-free metrics. Rows that cannot be read at all are kept in the run's
   ``rejected.parquet`` with the reader's reason: rows in = scored + refused, always;
2. generate one answer per prompt with any engine, through the generation cache (a rerun
   with the same model, prompts and params costs nothing; greedy by default);
3. score with every requested metric, keeping per-example values as ``metric:<name>``
   columns, which is what ``evalkit compare`` bootstraps over;
4. write the run folder (see :mod:`evalkit.store`).

``score_predictions`` does steps 3-4 for answers produced elsewhere (no model needed).
"""

from __future__ import annotations

import hashlib
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import polars as pl

from dataforge.outputs import prepare_outputs
from dataforge import models
from dataforge.errors import UserError
from dataforge.fileio import file_sha256
from dataforge.schemas.record import MESSAGE_DTYPE, POLARS_SCHEMA
from dataforge.schemas.rejected import empty_rejected
from dataforge.synth.engines import GenerationParams, GenerationRequest, make_engine

from dataforge import progress
from .metrics import MetricInputs, check_metric_params, get_metric, metric_registry
from .store import DETAIL_PREFIX, METRIC_PREFIX, Run, items_sha256, now_iso, package_versions, save_run


class BadPredictions(UserError, ValueError):
    """A predictions file that cannot be scored (unreadable, no ``prediction`` column,
    ids missing or repeated)."""


class GenerationFailed(UserError, RuntimeError):
    """The engine returned errors for some prompts (the message shows the first one)."""


@dataclass
class GenerationConfig:
    """How answers are generated; recorded verbatim in the manifest."""

    engine: str = "transformers"
    params: GenerationParams = field(default_factory=lambda: GenerationParams(max_new_tokens=256))
    engine_options: dict[str, Any] = field(default_factory=dict)
    cache: bool = True
    cache_path: str | None = None


# --- eval data ----------------------------------------------------------------------


@dataclass
class EvalSet:
    """An eval set read for scoring: its items, and the rows that could not be read."""

    items: pl.DataFrame  # see eval_items
    refused: pl.DataFrame  # dataforge's rejected table (reason, field, detail, line)
    rows_in: int

    def info(self) -> dict[str, Any]:
        """rows in = scored + refused, with the refusal reasons (recorded in the manifest)."""
        reasons = self.refused["reason"].value_counts(sort=True).rows() if self.refused.height else []
        return {"rows_in": self.rows_in, "scored": self.items.height, "refused": self.refused.height,
                "refused_reasons": dict(reasons)}


def read_eval_set(path: str | Path) -> EvalSet:
    """Read an eval set (any format ``dataforge`` reads, auto-detected) as eval items.

    The reader's conversation checks want a record to end with an assistant turn (a
    training example); an eval set may hold prompts only. So rows it rejected *only* for
    ending with a user turn or tool results (``role_order``, and a valid prompt otherwise)
    are taken back as reference-free items; every other rejected row stays refused.
    """
    from dataforge.formats.api import load
    from dataforge.formats.messages import letters
    from dataforge.formats.readers.validate import PROMPT_ORDER

    loaded = load(path)
    rejected = loaded.rejected
    prompt_only = ((pl.col("reason") == "role_order") & pl.col("messages").is_not_null()
                   & pl.col("chosen").is_null() & pl.col("rejected").is_null()
                   & letters("messages").str.contains(PROMPT_ORDER).fill_null(False))
    taken = rejected.filter(prompt_only).select(list(POLARS_SCHEMA))
    records = pl.concat([loaded.records, taken]) if taken.height else loaded.records
    refused = rejected.filter(~prompt_only) if rejected.height else empty_rejected()
    rows_in = int(loaded.stats.get("rows_in", records.height + refused.height))
    if records.height + refused.height != rows_in:  # the reader's invariant; a bug if it fails
        raise AssertionError(f"{path}: {rows_in} rows in but {records.height} items + {refused.height} refused")
    return EvalSet(eval_items(records), refused, rows_in)


def eval_items(records: pl.DataFrame) -> pl.DataFrame:
    """Canonical records -> id, messages (the prompt), tools, prompt text, reference(s).

    A record whose last turn is not an assistant turn has no reference (null): it can
    still be scored by reference-free metrics (PPL of the answer, JSON validity, diversity).
    Further references of an example (for multi-reference BLEU) come from ``meta.references``
    (a list of texts): then a ``references`` list column holds the final assistant turn
    followed by them, and ``reference`` stays the first.
    """
    msgs = pl.col("messages")
    last = msgs.list.last()
    has_ref = last.struct.field("role") == "assistant"
    prompt_msgs = pl.when(has_ref).then(msgs.list.slice(0, msgs.list.len() - 1)).otherwise(msgs)
    items = records.select(
        pl.col("id").cast(pl.String),
        prompt_msgs.alias("messages"),
        pl.col("tools") if "tools" in records.columns else pl.lit(None, pl.String).alias("tools"),
        pl.when(has_ref).then(last.struct.field("content")).alias("reference"),
        _meta_references(records),
    ).with_columns(prompt_text(pl.col("messages")).alias("prompt"))
    if items["extra_references"].list.len().fill_null(0).max() or 0:
        first = pl.when(pl.col("reference").is_not_null()).then(pl.concat_list(pl.col("reference")))
        items = items.with_columns(
            pl.concat_list(first.fill_null(pl.lit([], pl.List(pl.String))), pl.col("extra_references").fill_null([]))
            .alias("references"))
        items = items.with_columns(pl.col("references").list.first().alias("reference"))
    return items.drop("extra_references")


def _meta_references(records: pl.DataFrame) -> pl.Expr:
    """``meta.references`` (list of texts) of each record, else an empty list."""
    if "meta" not in records.columns or records["meta"].is_null().all():
        return pl.lit([], pl.List(pl.String)).alias("extra_references")
    found = pl.col("meta").str.json_path_match("$.references")
    return (found.str.json_decode(pl.List(pl.String)).fill_null([]).alias("extra_references"))


def prompt_text(messages: pl.Expr) -> pl.Expr:
    """Readable prompt: the content of a one-turn prompt, else ``[role] content`` lines."""
    lines = messages.list.eval(pl.concat_str(
        pl.lit("["), pl.element().struct.field("role"), pl.lit("] "),
        pl.element().struct.field("content").fill_null("")))
    only = messages.list.first().struct.field("content").fill_null("")
    return pl.when(messages.list.len() == 1).then(only).otherwise(lines.list.join("\n"))


# --- generation and scoring ------------------------------------------------------------

def generate(items: pl.DataFrame, model: str | None, config: GenerationConfig) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Add ``prediction`` (+ finish_reason, completion_tokens, cached) to ``items``."""
    from dataforge.synth.cache import CachedEngine, GenerationCache

    engine = make_engine(config.engine, model, **config.engine_options)
    # chunks of a few engine batches: the bar moves, the batches stay full
    chunk = 4 * int(config.engine_options.get("batch_size") or 8)
    shown = progress.ProgressEngine(engine, "generate", chunk=chunk)
    cache = GenerationCache(config.cache_path) if config.cache else None
    runner = CachedEngine(shown, cache) if cache is not None else shown  # bar counts misses only
    requests = [GenerationRequest.from_messages(m, tools=t, id=i) for i, m, t in
                zip(items["id"], items["messages"].to_list(), items["tools"])]
    try:
        outputs = runner.generate(requests, config.params)
    finally:
        if cache is not None:
            cache.close()
    first = [samples[0] for samples in outputs]
    errors = [g.error for g in first if g.finish_reason == "error"]
    if errors:
        raise GenerationFailed(f"{len(errors)} prompt(s) failed to generate; first: {errors[0]}")
    frame = items.with_columns(
        pl.Series("prediction", [g.text for g in first], dtype=pl.String),
        pl.Series("finish_reason", [g.finish_reason for g in first], dtype=pl.String),
        pl.Series("completion_tokens", [g.completion_tokens for g in first], dtype=pl.Int64),
        pl.Series("cached", [g.cached for g in first], dtype=pl.Boolean),
    )
    info = {
        "kind": config.engine,
        "fingerprint": engine.fingerprint(),
        "options": config.engine_options,
        "params": config.params.to_dict(),
        "cache": {"path": str(cache.path) if cache is not None else None,
                  "hits": getattr(runner, "hits", 0), "misses": getattr(runner, "misses", len(requests))},
    }
    return frame, info


def parse_metrics(spec: str | Sequence[str]) -> list[str]:
    """``"ppl,bleu"`` or a list -> metric names; ``all`` means every registered metric."""
    names = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    if names == ["all"]:
        return list(metric_registry())
    for name in names:
        get_metric(name)  # fail before generating, naming the known metrics
    return names


def call_params(metrics: Sequence[str], metric_params: Mapping[str, Mapping[str, Any]] | None
                ) -> dict[str, dict[str, Any]]:
    """The keyword arguments each metric is called with (the user's; the rest are the
    metric's own defaults, which its signature records)."""
    return {name: dict((metric_params or {}).get(name, {})) for name in metrics}


def score(frame: pl.DataFrame, metrics: Sequence[str], *, model: str | None = None,
          metric_params: Mapping[str, Mapping[str, Any]] | None = None
          ) -> tuple[pl.DataFrame, dict[str, dict[str, Any]], dict[str, float]]:
    """Compute ``metrics`` over a predictions frame.

    Returns the frame with ``metric:<name>`` per-example columns, the metrics JSON object and
    per-metric seconds. A metric that refuses this data (no references, too few
    generations, a bad schema: any :class:`UserError`, usually :class:`MetricRefused`) is
    recorded with ``score: null`` and its ``error`` instead of losing the whole run; any
    other exception is a bug and propagates.
    """
    inputs = MetricInputs(
        predictions=frame["prediction"].fill_null("").to_list(),
        references=(frame["references"] if "references" in frame.columns else frame["reference"]).to_list(),
        prompts=frame["prompt"].to_list(),
        messages=[[{k: v for k, v in m.items() if v is not None} for m in ms]
                  for ms in frame["messages"].to_list()],
        tools=frame["tools"].to_list() if "tools" in frame.columns else None,
        model=model,
    )
    params = call_params(metrics, metric_params)
    results: dict[str, dict[str, Any]] = {}
    timings: dict[str, float] = {}
    columns: list[pl.Series] = []
    with progress.task("metrics", total=len(metrics), unit="metrics") as advance:
        for name in metrics:
            started = time.perf_counter()
            try:
                result = get_metric(name)(inputs, **params[name])
            except UserError as exc:  # a refusal: recorded in the run, shown by the CLI
                result = None
                results[name] = {"name": name, "score": None, "signature": "", "error": str(exc)}
            timings[name] = round(time.perf_counter() - started, 3)
            advance(1)
            if result is None:
                continue
            entry, details = _split_details(result.to_dict(), frame.height)
            results[name] = entry
            columns += [pl.Series(f"{DETAIL_PREFIX}{name}.{key}", values, strict=False)
                        for key, values in details.items()]
            if result.per_example is not None and len(result.per_example) == frame.height:
                columns.append(pl.Series(METRIC_PREFIX + name, result.per_example, dtype=pl.Float64,
                                         strict=False))
    return frame.with_columns(columns), results, timings


def _split_details(entry: dict[str, Any], n: int) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """Move per-example lists out of a metric's extras (they become ``detail:`` columns,
    keeping metrics.json small) and turn a NaN score (nothing applicable) into null."""
    details = {k: v for k, v in entry.items() if isinstance(v, list) and len(v) == n and n > 1}
    kept = {k: v for k, v in entry.items() if k not in details}
    if isinstance(kept.get("score"), float) and math.isnan(kept["score"]):
        kept["score"] = None
        kept.setdefault("note", "not applicable to any example")
    return kept, details


# --- runs --------------------------------------------------------------------------


def evaluate(
    model: str | None = None,
    data: str | Path | None = None,
    metrics: str | Sequence[str] = "all",
    *,
    generation: GenerationConfig | None = None,
    metric_params: Mapping[str, Mapping[str, Any]] | None = None,
    output: str | Path | None = None,
    predictions: str | Path | None = None,
    overwrite: bool = False,
    strict: bool = False,
    limit: int | None = None,
) -> Run:
    """Evaluate ``model`` on ``data`` (or score existing ``predictions``); return the run.

    With ``output`` the run folder is written too. ``model`` is an alias, local folder or
    hub id (``None``: the embedded default). With ``predictions`` nothing is generated; a
    ``model`` is then used only by model-based metrics (PPL); ``strict`` refuses predictions
    whose ids are not in ``data`` (otherwise they are counted in a warning). ``limit`` keeps
    the first N items of the eval set (recorded in the manifest's data section).
    """
    started = time.perf_counter()
    names = parse_metrics(metrics)
    for name, params in (metric_params or {}).items():  # a typo fails before generation, by name
        get_metric(name)
        check_metric_params(name, dict(params))
    if output is not None:  # refuse an unsafe output before paying for generation
        prepare_outputs([data, predictions], folders=[output], overwrite=overwrite)
    generation = generation or GenerationConfig()
    timings: dict[str, Any] = {}
    refused: pl.DataFrame | None = None
    data_counts: dict[str, Any] = {}
    if predictions is not None:
        frame, eval_set = _predictions_frame(predictions, data, strict=strict)
        if eval_set is not None:
            refused, data_counts = eval_set.refused, eval_set.info()
        engine_info: dict[str, Any] = {"kind": "predictions-file", "path": str(Path(predictions).resolve()),
                                       "sha256": file_sha256(predictions)}
        kind = "predictions"
    else:
        if data is None:
            raise UserError("evaluate needs `data` (an eval set) or `predictions`")
        eval_set = read_eval_set(data)
        frame, refused, data_counts = eval_set.items, eval_set.refused, eval_set.info()
        if limit is not None:
            frame = frame.head(limit)
            data_counts["limit"] = limit
        t0 = time.perf_counter()
        frame, engine_info = generate(frame, model, generation)
        timings["generate_s"] = round(time.perf_counter() - t0, 3)
        kind = "generation"
    # metrics get the reference, not the resolved path, so signatures read the same on every machine
    model_ref = model or (models.DEFAULT_CAUSAL_LM if predictions is None else None)
    frame, results, timings["metrics_s"] = score(frame, names, model=model_ref, metric_params=metric_params)
    timings["total_s"] = round(time.perf_counter() - started, 3)
    manifest = {
        "kind": kind,
        "model": {"ref": model_ref, "path": models.resolve(model_ref) if model_ref else None},
        "data": {**_data_info(data, frame), **data_counts},
        "engine": engine_info,
        "metrics": {n: r.get("signature", "") for n, r in results.items()},
        "metric_params": call_params(names, metric_params),
        "versions": package_versions(),
        "timings": timings,
        "created_at": now_iso(),
    }
    run = Run(predictions=frame, metrics=results, manifest=manifest, rejected=refused)
    return save_run(run, output, overwrite=overwrite) if output is not None else run


def _data_info(data: str | Path | None, frame: pl.DataFrame) -> dict[str, Any]:
    info: dict[str, Any] = {"n": frame.height, "sha256": items_sha256(frame)}
    if data is not None:
        info.update(path=str(Path(data).resolve()), file_sha256=file_sha256(data))
    return info


class PredictionsWarning(UserWarning):
    """Something in a predictions file that is not scored (the CLI prints it)."""


def read_predictions(path: str | Path, data: str | Path | None = None, *, strict: bool = False) -> pl.DataFrame:
    """A predictions file -> the frame ``score`` takes (see :func:`_predictions_frame`)."""
    return _predictions_frame(path, data, strict=strict)[0]


def _predictions_frame(
    path: str | Path, data: str | Path | None, *, strict: bool = False
) -> tuple[pl.DataFrame, EvalSet | None]:
    """A predictions file -> the frame ``score`` takes, and the eval set it was joined to.

    Either it carries ``prompt``, ``reference`` and ``prediction`` (ids optional: a content
    hash is used; ``references``, a list per row, for several references), or ``id`` +
    ``prediction`` joined to the eval set ``data``. Predictions whose id is not in ``data``
    are not scored: a :class:`PredictionsWarning` counts them (``strict``: refused).
    """
    p = Path(path)
    readers = {".parquet": pl.read_parquet, ".jsonl": pl.read_ndjson, ".json": pl.read_json,
               ".csv": pl.read_csv}
    if p.suffix not in readers:
        raise BadPredictions(f"predictions file must be one of {sorted(readers)}, got {p.name}")
    try:
        preds = readers[p.suffix](p)
    except pl.exceptions.PolarsError as exc:
        raise BadPredictions(f"cannot read predictions file {p}: {exc}") from exc
    if preds.height == 0:
        raise BadPredictions(f"predictions file {p} has no rows")
    if "prediction" not in preds.columns:
        raise BadPredictions(f"{p.name} has no `prediction` column (columns: {preds.columns})")
    kind = preds.schema["prediction"]
    if kind.is_nested() or kind == pl.Binary:  # numbers and booleans read fine as text
        row = preds["prediction"].is_not_null().arg_true()[0] + 1
        raise BadPredictions(f"{p}: row {row}: prediction must be text, the file holds {kind} values")
    if data is not None:
        if "id" not in preds.columns:
            raise BadPredictions(f"{p.name} needs an `id` column to be joined to {data}")
        preds = preds.select(pl.col("id").cast(pl.String), "prediction")
        repeated = preds.filter(pl.col("id").is_duplicated())["id"].unique(maintain_order=True).to_list()
        if repeated:  # a join would silently score those items more than once
            raise BadPredictions(f"{p.name} has {len(repeated)} id(s) more than once, e.g. {repeated[:3]}")
        eval_set = read_eval_set(data)
        unknown = preds.join(eval_set.items, on="id", how="anti")["id"].to_list()
        if unknown:
            message = (f"{p.name}: {len(unknown)} prediction id(s) not in the eval set {data}, "
                       f"e.g. {unknown[:3]}; they are not scored")
            if strict:
                raise BadPredictions(message)
            warnings.warn(message + " (--strict refuses them)", PredictionsWarning, stacklevel=3)
        joined = eval_set.items.join(preds, on="id", how="left", maintain_order="left")
        missing = joined.filter(pl.col("prediction").is_null())["id"].to_list()
        if missing:
            raise BadPredictions(f"{len(missing)} eval item(s) have no prediction in {p.name}, e.g. {missing[:3]}")
        return joined, eval_set
    if "references" in preds.columns and "reference" not in preds.columns:
        preds = preds.with_columns(pl.col("references").list.first().alias("reference"))
    needed = {"prompt", "reference"} - set(preds.columns)
    if needed:
        raise BadPredictions(f"{p.name} lacks {sorted(needed)}; give the eval set with --data to join on id")
    frame = preds.with_columns(pl.col(c).cast(pl.String) for c in ("prompt", "reference", "prediction"))
    if "id" not in frame.columns:
        frame = frame.with_columns(_content_ids(frame))
    if "messages" not in frame.columns:
        user = pl.struct(role=pl.lit("user"), content=pl.col("prompt"), name=pl.lit(None, pl.String),
                         tool_calls=pl.lit(None), tool_call_id=pl.lit(None, pl.String))
        frame = frame.with_columns(pl.concat_list(user).cast(pl.List(MESSAGE_DTYPE)).alias("messages"))
    return frame, None


def _content_ids(frame: pl.DataFrame) -> pl.Series:
    """Stable ids from prompt + reference (sha1; polars' own hash is not stable across versions)."""
    keys = frame.select(pl.concat_str(pl.col("prompt").fill_null(""), pl.col("reference").fill_null(""),
                                      separator="\x1f"))[:, 0].to_list()
    ids = pl.DataFrame({"id": [hashlib.sha1(k.encode("utf-8")).hexdigest()[:16] for k in keys]})
    # duplicated items stay distinct (and stable) by their occurrence number
    n = pl.int_range(pl.len()).over("id")
    return ids.select(pl.when(n == 0).then(pl.col("id"))
                      .otherwise(pl.concat_str(pl.col("id"), pl.lit("-"), n.cast(pl.String)))).to_series()
