"""One raw shard -> canonical records + rejected rows + stats (the read pipeline).

Steps, all column-wise except the last: the adapter converts the raw frame, passthrough
columns (``id``, ``source``) and extras (``meta``) are attached, :mod:`validate` gives
every row a verdict, kept rows get content-hash ids. Only for rejected rows does Python
look at individual rows, to name the exact field and write the human detail.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from ...schemas.record import POLARS_SCHEMA, conform, with_content_ids
from ...schemas.rejected import REJECTED_SCHEMA, conform_rejected, empty_rejected
from .. import jsontext
from ..base import Format, FormatError, Plan
from ..extras import extra_columns, meta_expr
from . import validate
from .shard import RawShard


@dataclass
class ShardResult:
    records: pl.DataFrame
    rejected: pl.DataFrame
    stats: dict[str, Any] = field(default_factory=dict)


def convert_shard(shard: RawShard, fmt: Format, plan: Plan, source_file: str, source_name: str) -> ShardResult:
    stage = f"read:{fmt.name}"
    raw = shard.frame
    canon = fmt.to_canonical(raw, plan)
    extras = {
        "id": _as_text(raw, "id") if "id" in raw.columns else pl.lit(None, dtype=pl.String),
        "source": _as_text(raw, "source").fill_null(source_name) if "source" in raw.columns else pl.lit(source_name),
        "meta": meta_expr(raw, fmt.consumed(plan)),
    }
    # with_columns (not select) so literal-only expressions still get one value per row
    passthrough = raw.with_columns([e.alias(f"__{k}") for k, e in extras.items()]).select(
        [pl.col(f"__{k}").alias(k) for k in extras]
    )
    full = pl.concat([canon, passthrough], how="horizontal")
    reasons = validate.verdict(full)
    ok = reasons.is_null()
    records = with_content_ids(conform(full.filter(ok).select([c for c in POLARS_SCHEMA if c in full.columns])))

    bad_pos = (~ok).arg_true().to_list()
    parts = [_parse_rejects(shard, stage, source_file)]
    if bad_pos:
        parts.append(_convert_rejects(full, raw, reasons, bad_pos, shard, fmt, plan, stage, source_file))
    rejected = pl.concat(parts) if len(parts) > 1 else parts[0]
    if rejected.height:
        rejected = rejected.sort("source_row", nulls_last=True)
    if records.height + rejected.height != shard.rows_in:  # the invariant; a bug if it fails
        raise AssertionError(
            f"{source_file}: {shard.rows_in} rows in but {records.height} kept + {rejected.height} rejected"
        )
    stats = {
        "rows_in": shard.rows_in,
        "rows_out": records.height,
        "rejected": rejected.height,
        "reasons": dict(Counter(rejected["reason"].to_list())) if rejected.height else {},
        "ignored_fields": sorted(shard.ignored),
        "unread_fields": unread_fields(raw, fmt, plan),
    }
    return ShardResult(records, rejected, stats)


#: canonical fields a user expects an input key of the same name to fill
_RECORD_FIELDS = ("messages", "tools", "chosen", "rejected", "label")


def unread_fields(raw: pl.DataFrame, fmt: Format, plan: Plan) -> list[str]:
    """Input keys named like a canonical field (``label``, ``tools``...) that hold data but
    that this format does not read: their values only reach ``meta``, which a user would
    not guess (LLaMA-Factory's KTO ``label`` read as OpenAI messages, say)."""
    extra = set(extra_columns(raw.columns, fmt.consumed(plan)))
    return [c for c in _RECORD_FIELDS if c in extra and raw[c].null_count() < raw.height]


def _as_text(raw: pl.DataFrame, column: str) -> pl.Expr:
    """A passthrough column as text: numbers as digits, anything nested as JSON."""
    dtype = raw.schema[column]
    if dtype == pl.String or dtype == pl.Null or dtype.is_numeric():
        return pl.col(column).cast(pl.String)
    return pl.when(pl.col(column).is_not_null()).then(jsontext.value(pl.col(column)))


def _parse_rejects(shard: RawShard, stage: str, source_file: str) -> pl.DataFrame:
    if not shard.rejects:
        return empty_rejected()
    frame = pl.DataFrame(
        shard.rejects,
        schema={k: REJECTED_SCHEMA[k] for k in ("reason", "field", "detail", "source_row", "raw")},
    )
    return conform_rejected(frame.with_columns(stage=pl.lit(stage), source_file=pl.lit(source_file)))


def _convert_rejects(
    full: pl.DataFrame, raw: pl.DataFrame, reasons: pl.Series, positions: list[int],
    shard: RawShard, fmt: Format, plan: Plan, stage: str, source_file: str,
) -> pl.DataFrame:
    bad = full[positions]
    raw_rows = raw[positions].to_dicts()
    canon_rows = bad.select([c for c in ("messages", "chosen", "rejected", "tools", "label") if c in bad.columns]).to_dicts()
    fields: list[str | None] = []
    details: list[str] = []
    for reason, rec, raw_row in zip(reasons.gather(positions).to_list(), canon_rows, raw_rows):
        path, detail = explain(reason, rec, raw_row, fmt, plan)
        fields.append(path)
        details.append(detail)
    info = pl.DataFrame(
        {
            "stage": [stage] * len(positions),
            "reason": reasons.gather(positions),
            "field": pl.Series(fields, dtype=pl.String),
            "detail": details,
            "source_file": [source_file] * len(positions),
            "source_row": pl.Series([shard.rows[p] for p in positions], dtype=pl.Int64),
            "raw": pl.Series(shard.text_of(positions), dtype=pl.String),
        }
    )
    canonical = bad.select([c for c in POLARS_SCHEMA if c in bad.columns])
    return conform_rejected(pl.concat([canonical, info], how="horizontal"))


_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def resolve(row: Any, path: str) -> Any:
    """The value at ``a.b[2].c`` in a raw row (None if the path does not exist)."""
    cur = row
    for name, index in _TOKEN.findall(path):
        try:
            cur = cur[int(index)] if index else cur[name]
        except (KeyError, IndexError, TypeError):
            return None
    return cur


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _json_problem(value: Any) -> str:
    if value is None:
        return "missing"
    if not isinstance(value, str):
        return f"got {_short(value)}"
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as e:
        return f"not valid JSON ({e.msg} at column {e.colno}): {_short(value)}"
    if isinstance(parsed, str):
        return _json_problem(parsed)
    return f"not a JSON object: {_short(value)}"


def explain(reason: str, rec: dict[str, Any], raw_row: dict[str, Any], fmt: Format, plan: Plan) -> tuple[str | None, str]:
    """Field path (in the input's own terms) and a human sentence for one rejected row."""
    column, index, part = validate.locate_problem(reason, rec)
    if column is None:
        return None, validate.REASONS.get(reason, reason)
    path = fmt.locate(raw_row, plan, column, index, part)
    value = resolve(raw_row, path)
    if reason == "missing_field":
        return path, f"{path} is missing"
    if reason == "empty_conversation":
        return path, f"{path} has no turns"
    if reason == "unknown_role":
        if value is None:  # e.g. glaive text before the first USER:/ASSISTANT: marker
            return path, f"a turn without a known role at {path}"
        return path, f"unknown role {_short(value)!r} at {path}"
    if reason == "invalid_tool_call":
        error = _json_error(value) if isinstance(value, str) and value.lstrip()[:1] in ("{", "[") else None
        if error:
            return path, f"function call at {path} is not valid JSON ({error}): {_short(value)}"
        return path, f"tool call without a function name at {path}: {_short(value) if value is not None else 'missing'}"
    if reason == "invalid_tool_arguments":
        args = value
        call = _loads(value) if isinstance(value, str) else None
        if isinstance(call, dict) and "arguments" in call:  # a ShareGPT function_call turn
            args = call["arguments"]
        return path, f"tool-call arguments at {path} are {_json_problem(args)}"
    if reason == "invalid_tools":
        return path, f"{path} must be a JSON array of function schemas; {_json_problem(value)}"
    if reason == "empty_turn":
        return path, f"{path} is empty"
    if reason == "role_order":
        return path, validate.order_detail(rec, column) + f" (at {path})"
    return path, validate.REASONS.get(reason, reason)


def _json_error(text: str) -> str | None:
    try:
        json.loads(text)
    except json.JSONDecodeError as e:
        return f"{e.msg} at column {e.colno}"
    return None


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def first_rejection_message(rejected: pl.DataFrame) -> str:
    row = rejected.row(0, named=True)
    where = f"{row['source_file']}:{row['source_row']}" if row["source_row"] is not None else row["source_file"]
    field_part = f" {row['field']}:" if row["field"] else ""
    return f"{where}:{field_part} {row['reason']}: {row['detail']}"


class StrictError(FormatError):
    """``strict=True`` and a row was rejected; the message locates it."""
