"""Typed inputs (Parquet, CSV): bridge the file's column types to the format's plan.

Parquet arrives typed; CSV cells are all text (nested fields as JSON text in a cell, an
empty cell as null). Columns whose type differs from the plan are decoded column-wise
where possible (JSON text -> nested, text -> bool); only a column that fails to decode is
walked cell by cell, to reject exactly the bad rows.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Iterator, Sequence

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .. import jsontext
from ..base import FormatError, Plan
from ...schemas.jsonschema import arrow_jsonschema
from .conform import conform, plan_dtypes
from .hazards import MAX_DEPTH, problem, refuse_constant, type_depth
from .objects import Reject, reject
from .shard import RawShard
from .textio import open_binary

ARROW_BLOCK = 4 << 20


def _csv_header(path: Path) -> list[str]:
    """The column names (the first record), read without touching the rest of the file."""
    with io.TextIOWrapper(open_binary(path), encoding="utf-8-sig", newline="") as f:
        try:
            return next(csv.reader(f), [])
        except (csv.Error, UnicodeDecodeError) as e:
            raise FormatError(f"{path}: cannot read the CSV header: {e}") from None


def _csv_batches(path: Path, names: list[str]) -> Iterator[pa.RecordBatch]:
    # a row with the wrong number of cells, a broken quote, bad UTF-8: Arrow's streaming
    # reader cannot say which data row it was, so stop with its message (it quotes the row)
    try:
        reader = pacsv.open_csv(
            pa.input_stream(str(path), compression="detect"),
            read_options=pacsv.ReadOptions(block_size=ARROW_BLOCK),
            # an empty cell is null: CSV cannot tell "" from a missing value, and null keeps
            # extra columns out of meta instead of filling it with empty strings
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=True),
        )
        yield from reader
    except pa.ArrowInvalid as e:
        raise FormatError(f"{path}: not a valid CSV file: {e}") from None


def parquet_batches(
    path: Path, shard_rows: int, shard_bytes: int | None = None, row_groups: list[int] | None = None
) -> Iterator[pa.RecordBatch]:
    """Record batches of a Parquet file (:func:`_parquet_batch_rows` rows each), of only
    ``row_groups`` if given; a file that is not Parquet, is truncated or has corrupt pages
    is refused with its name (Arrow's own message says what it found)."""
    try:
        pf = pq.ParquetFile(path)
        if any(1 + type_depth(f.type) > MAX_DEPTH for f in pf.schema_arrow):
            raise FormatError(f"{path}: a column nests deeper than {MAX_DEPTH} levels")
        yield from pf.iter_batches(batch_size=_parquet_batch_rows(pf, shard_rows, shard_bytes), row_groups=row_groups)
    except pa.ArrowException as e:
        raise FormatError(f"{path}: not a readable Parquet file (truncated, corrupt or another format): {e}") from None


def _parquet_batch_rows(pf: pq.ParquetFile, shard_rows: int, shard_bytes: int | None) -> int:
    """``shard_rows``, fewer when the file's average uncompressed row would make a batch
    larger than ``shard_bytes``."""
    meta = pf.metadata
    if not shard_bytes or meta.num_rows == 0:
        return shard_rows
    row_bytes = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups)) / meta.num_rows
    return max(1, min(shard_rows, int(shard_bytes / max(row_bytes, 1.0))))


def csv_frames(path: Path, shard_rows: int) -> Iterator[pl.DataFrame]:
    names = _csv_header(path)
    pending: list[pl.DataFrame] = []
    size = 0
    for batch in _csv_batches(path, names):
        frame = pl.from_arrow(batch)
        pending.append(frame)  # type: ignore[arg-type]
        size += batch.num_rows
        while size >= shard_rows:
            whole = pl.concat(pending)
            yield whole.head(shard_rows)
            rest = whole.slice(shard_rows)
            pending, size = [rest], rest.height
    if size:
        yield pl.concat(pending)


# -- typed inputs (Parquet, CSV): bridge the file's types to the plan ------------------------

def typed_shard(frame: pl.DataFrame, rows: list[int], plan: Plan) -> RawShard:
    conformed = conform(frame, plan)
    out = conformed.frame
    bad_rows: dict[int, Reject] = {}
    want = plan_dtypes(plan)
    json_text_cols = {p[0] for p in plan.json_text if len(p) == 1}
    for col, have in conformed.incompatible.items():
        series = out[col]
        if col in json_text_cols and have != pl.String:
            out = out.with_columns(jsontext.value(pl.col(col)).alias(col))
        elif have == pl.String and want[col] == pl.Boolean:
            out = out.with_columns(_text_to_bool(series, rows, bad_rows).alias(col))
        elif have == pl.String:
            out = out.with_columns(_text_to_nested(series, want[col], plan.schema.field(col).type, rows, bad_rows).alias(col))
        else:
            for pos in series.is_not_null().arg_true().to_list():
                bad_rows.setdefault(pos, reject(
                    "wrong_type", rows[pos], f"{col}: expected {want[col]}, the file stores {have}", None, col))
            out = out.with_columns(pl.lit(None, dtype=want[col]).alias(col))
    for col in (c for c in out.columns if c not in want and out.schema[c].is_float()):
        # an extra column goes to meta, which is JSON: no NaN/Infinity (null would change it)
        for pos in (out[col].is_nan() | out[col].is_infinite()).fill_null(False).arg_true().to_list():
            bad_rows.setdefault(pos, reject(
                "invalid_json", rows[pos], f"{col} is {out[col][pos]}: meta is JSON, which has no NaN/Infinity "
                "(write null or a string)", None, col))

    def text_of(pos: Sequence[int], f: pl.DataFrame = frame) -> list[str | None]:
        return [json.dumps(f.row(p, named=True), ensure_ascii=False, default=str) for p in pos]

    if bad_rows:
        for pos, rej in bad_rows.items():
            rej["raw"] = text_of([pos])[0]
        keep = [p for p in range(out.height) if p not in bad_rows]
        kept_frame = out[keep]
        kept_rows = [rows[p] for p in keep]
        return RawShard(kept_frame, kept_rows, list(bad_rows.values()), len(rows),
                        lambda pos: text_of([keep[p] for p in pos]), conformed.ignored)
    return RawShard(out, rows, [], len(rows), text_of, conformed.ignored)


_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def _text_to_bool(series: pl.Series, rows: list[int], bad: dict[int, Reject]) -> pl.Series:
    low = series.str.strip_chars().str.to_lowercase()
    mapping = {**{k: True for k in _TRUE}, **{k: False for k in _FALSE}}
    parsed = low.replace_strict(mapping, default=None, return_dtype=pl.Boolean)
    wrong = (parsed.is_null() & low.is_not_null() & (low != "")).arg_true().to_list()
    for pos in wrong:
        bad.setdefault(pos, reject("wrong_type", rows[pos], f"{series.name}: expected true/false, got {series[pos]!r}", None, series.name))
    return parsed


def _text_to_nested(series: pl.Series, want: pl.DataType, arrow_type: pa.DataType, rows: list[int], bad: dict[int, Reject]) -> pl.Series:
    """JSON text cells (CSV, or Parquet that stores lists as text) -> nested values."""
    text = series.str.strip_chars()
    text = pl.select(pl.when(text.str.len_chars() > 0).then(text)).to_series()
    try:
        return text.str.json_decode(want)
    except pl.exceptions.PolarsError:
        pass
    import jsonschema

    validator = jsonschema.validators.validator_for({})(arrow_jsonschema(arrow_type))
    values: list[Any] = []
    for pos, cell in enumerate(text.to_list()):
        if cell is None:
            values.append(None)
            continue
        try:
            value = json.loads(cell, parse_constant=refuse_constant)
            hazard = problem(value)
        except ValueError as e:
            hazard = ("invalid_json", "", str(e))
        except RecursionError:
            hazard = ("too_deep", "", f"nests arrays/objects deeper than {MAX_DEPTH} levels")
        if hazard is not None:
            reason, where, detail = hazard
            bad.setdefault(pos, reject(reason, rows[pos], f"{series.name}: {detail}", None, series.name))
            values.append(None)
            continue
        err = jsonschema.exceptions.best_match(validator.iter_errors(value))
        if err is not None:
            where = series.name + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path)
            bad.setdefault(pos, reject("wrong_type", rows[pos], f"{where}: {err.message}", None, where))
            values.append(None)
            continue
        values.append(value)
    return pl.from_arrow(pa.array(values, type=arrow_type)).alias(series.name)  # type: ignore[union-attr, return-value]
