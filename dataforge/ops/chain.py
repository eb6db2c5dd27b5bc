"""Run a chain of operators over a table or a stream of shards.

``apply(df_or_shards, ops) -> ChainResult(kept, rejected, stats)`` is the Python API;
``iter_apply`` is the streaming core the CLI uses so a dataset larger than memory flows
shard by shard through every op and straight into a writer.

Why generators: each op wraps the stream of the op before it, so shard 1 passes through
the whole chain before shard 2 is read. An op with ``needs_full_table`` is the one place
the stream is materialized: it receives the concatenation of everything upstream, once.

Ops are given as ``Operator`` instances or specs: ``"NAME"``, ``"NAME:k=v,k2=v2"`` (values
are YAML scalars or flow lists, ``roles=[user,assistant]``), or ``{"op": NAME, **params}``.

Per-op stats from each shard are merged into one dict per chain stage: ``*_max`` keys take
the maximum, ``*_min`` the minimum, other numbers (counts, seconds) add up, dicts merge
recursively (reason counts, histograms), lists concatenate (capped), anything else keeps the
first shard's value (a one-time report such as a template diagnosis).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Sequence

import polars as pl
import yaml

from ..errors import ConfigError
from ..schemas.record import conform, empty_table
from ..schemas.rejected import conform_rejected, empty_rejected
from .base import Operator, make_op

_LIST_CAP = 1000


@dataclass
class ChainResult:
    """Everything a chain produced: kept records, every rejected row, per-stage stats."""

    kept: pl.DataFrame
    rejected: pl.DataFrame
    stats: list[dict[str, Any]] = field(default_factory=list)

    @property
    def stats_frame(self) -> pl.DataFrame:
        """The per-stage stats as a table: stage, rows in/kept/rejected, seconds, reasons."""
        return pl.DataFrame(
            [{"stage": s["op"], "rows_in": s["rows_in"], "rows_kept": s["rows_kept"],
              "rows_rejected": s["rows_rejected"], "seconds": float(s.get("seconds", 0.0)),
              "reasons": json.dumps(s.get("reasons", {}), ensure_ascii=False, sort_keys=True)}
             for s in self.stats],
            schema={"stage": pl.String, "rows_in": pl.Int64, "rows_kept": pl.Int64, "rows_rejected": pl.Int64,
                    "seconds": pl.Float64, "reasons": pl.String},
        )


# -- op specs ---------------------------------------------------------------------------


def _split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside brackets and quotes, so ``roles=[a,b],n=2`` stays whole.

    A quote only opens a quoted string at the start of a value (after ``=``, ``,`` or a
    bracket), so an apostrophe inside a word (``text=don't``) is plain text.
    """
    parts, depth, quote, start, prev = [], 0, "", 0, ""
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"" and prev in ("", "=", ",", "[", "{", "(", ":", " "):
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        prev = ch
    parts.append(text[start:])
    return [p for p in (p.strip() for p in parts) if p]


def parse_op_spec(spec: str | Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """``"NAME:k=v,..."`` or ``{"op": NAME, **params}`` -> (name, params).

    Values go through ``yaml.safe_load`` so ``n=13`` is an int, ``x=0.5`` a float,
    ``flag=true`` a bool and ``roles=[user,assistant]`` a list, as a user would expect.
    """
    if isinstance(spec, Mapping):
        params = dict(spec)
        if "op" not in params:
            raise ConfigError(f"op spec {dict(spec)!r} needs an `op:` key naming the operator")
        return str(params.pop("op")), params
    if not isinstance(spec, str):
        raise ConfigError(f"op spec {spec!r}: expected \"NAME[:k=v,...]\" or a mapping with `op:`")
    name, _, rest = spec.partition(":")
    params: dict[str, Any] = {}
    for item in _split_top_level(rest):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"op spec {spec!r}: expected k=v, got {item!r}")
        try:
            params[key.strip()] = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ConfigError(f"op spec {spec!r}: value of {key.strip()!r} is not valid YAML: {problem}") from None
    if not name.strip():
        raise ConfigError(f"op spec {spec!r} names no operator")
    return name.strip(), params


OpSpec = Operator | str | Mapping[str, Any]


def build_ops(ops: OpSpec | Sequence[OpSpec]) -> list[Operator]:
    """Instantiate every op of a chain up front, so a typo fails before any data is read.

    One op may be given alone (``"normalize"``, ``{"op": ...}`` or an ``Operator``)."""
    if isinstance(ops, (str, Mapping, Operator)):
        ops = [ops]
    built = []
    for spec in ops:
        if isinstance(spec, Operator):
            built.append(spec)
        else:
            name, params = parse_op_spec(spec)
            built.append(make_op(name, params))
    return built


# -- stats ------------------------------------------------------------------------------


def merge_stats(acc: dict[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """Fold one shard's stats into the running total (rules in the module docstring)."""
    for key, value in new.items():
        if key not in acc:
            acc[key] = dict(value) if isinstance(value, dict) else (
                list(value)[:_LIST_CAP] if isinstance(value, list) else value
            )
            continue
        old = acc[key]
        if isinstance(value, bool) or value is None or old is None:
            continue
        if isinstance(value, (int, float)) and isinstance(old, (int, float)):
            if key.endswith("_max"):
                acc[key] = max(old, value)
            elif key.endswith("_min"):
                acc[key] = min(old, value)
            else:
                acc[key] = old + value
        elif isinstance(value, dict) and isinstance(old, dict):
            merge_stats(old, value)
        elif isinstance(value, list) and isinstance(old, list):
            old.extend(value[: max(0, _LIST_CAP - len(old))])
    return acc


class _StatsBook:
    """One merged stats dict per chain stage, in chain order."""

    def __init__(self) -> None:
        self.stages: dict[str, dict[str, Any]] = {}

    def add(self, key: str, stats: Mapping[str, Any]) -> None:
        merge_stats(self.stages.setdefault(key, {}), stats)

    def as_list(self) -> list[dict[str, Any]]:
        return list(self.stages.values())


def _reader_stats(stage: str, n_records: int, rejected: pl.DataFrame) -> dict[str, Any]:
    reasons = (
        {r: int(c) for r, c in rejected.group_by("reason").len().rows()} if rejected.height else {}
    )
    return {
        "op": stage, "rows_in": n_records + rejected.height, "rows_kept": n_records,
        "rows_rejected": rejected.height, "reasons": reasons, "seconds": 0.0,
    }


# -- running ----------------------------------------------------------------------------

RejectSink = Callable[[int, str, pl.DataFrame], None]


def _source_shards(
    source: Any, book: _StatsBook, on_rejected: RejectSink
) -> Iterator[pl.DataFrame]:
    """Canonical shards from a frame or lazy frame, several of them, or ``LoadResult``s
    (reader rejections kept)."""
    items = [source] if isinstance(source, (pl.DataFrame, pl.LazyFrame)) else source
    for item in items:
        if isinstance(item, pl.LazyFrame):
            item = item.collect()
        if isinstance(item, pl.DataFrame):
            yield conform(item)
            continue
        records, rejected = item.records, item.rejected
        stage = f"read:{item.format}"
        book.add(stage, _reader_stats(stage, records.height, rejected))
        if rejected.height:
            on_rejected(0, stage, conform_rejected(rejected))
        yield conform(records)


def _run_op(
    position: int, op: Operator, shards: Iterator[pl.DataFrame], book: _StatsBook,
    on_rejected: RejectSink,
) -> Iterator[pl.DataFrame]:
    key = f"{position}:{op.name}"

    def run(frame: pl.DataFrame) -> pl.DataFrame:
        result = op(frame)
        book.add(key, result.stats)
        if result.rejected.height:
            on_rejected(position, op.name, conform_rejected(result.rejected))
        return conform(result.kept)

    if op.needs_full_table:
        frames = [s for s in shards if s.height]
        yield run(pl.concat(frames, how="vertical") if frames else empty_table())
        return
    produced = False
    for shard in shards:
        if shard.height:
            produced = True
            yield run(shard)
    if not produced:  # still report the op (0 rows in) so every stage shows in the stats
        yield run(empty_table())


def iter_apply(
    source: Any,
    ops: OpSpec | Sequence[OpSpec],
    on_rejected: RejectSink,
) -> tuple[Iterator[pl.DataFrame], Callable[[], list[dict[str, Any]]]]:
    """Stream ``source`` through ``ops``; returns (kept shards, a stats getter).

    ``on_rejected(position, stage, rows)`` receives every rejected batch as it happens
    (position 0 = the reader, 1.. = the ops in order), so rejections stream too. Call the
    stats getter after the kept iterator is exhausted.
    """
    built = build_ops(ops)
    book = _StatsBook()
    stream: Iterator[pl.DataFrame] = _source_shards(source, book, on_rejected)
    for position, op in enumerate(built, start=1):
        stream = _run_op(position, op, stream, book, on_rejected)
    return (s for s in stream if s.height), book.as_list


def apply(df_or_shards: Any, ops: OpSpec | Sequence[OpSpec]) -> ChainResult:
    """Run ``ops`` in order over a frame, frames, or ``LoadResult``s; collect everything.

    >>> result = apply(df, ["normalize", "dedup.exact", {"op": "dedup.near", "threshold": 0.8}])
    >>> result.kept, result.rejected, result.stats
    """
    rejected: list[pl.DataFrame] = []
    kept_iter, stats = iter_apply(df_or_shards, ops, lambda _p, _s, rows: rejected.append(rows))
    kept = list(kept_iter)
    return ChainResult(
        kept=pl.concat(kept, how="vertical") if kept else empty_table(),
        rejected=pl.concat(rejected, how="vertical") if rejected else empty_rejected(),
        stats=stats(),
    )


__all__ = ["ChainResult", "apply", "build_ops", "iter_apply", "merge_stats", "parse_op_spec"]
