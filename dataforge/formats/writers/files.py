"""Incremental, atomic writers: canonical Parquet (zstd) and every external format as
JSON Lines, a JSON array, CSV or Parquet (picked by the output extension, ``.gz``
allowed). CSV holds nested columns (``messages``, ``conversations``...) as JSON text.

A writer takes canonical shards one at a time (``write``), streams them to a temporary
file beside the target and renames it into place on ``close`` (``os.replace``), so a
crash never leaves a half-written output, and memory stays at one shard.

JSON output is assembled column-wise from JSON fragments (no ``json.dumps`` per row):
null fields are left out, JSON-text columns (OpenAI ``tools``) are spliced unquoted, and
the record's ``meta`` members become top-level keys again, unless one of them would
collide with a field of the format (then ``meta`` is written as one text field, which
the reader takes back as is).
"""

from __future__ import annotations

import contextlib
import gzip
from pathlib import Path
from typing import IO, Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from ...fileio import AtomicFile, AtomicOutput, writing
from ...schemas.record import CANONICAL_SCHEMA, to_arrow, with_content_ids
from .. import jsontext
from .. import messages as M
from ..base import Encoded, Format, FormatError, get
from ..extras import has_reserved_keys


_LISTS = ("messages", "chosen", "rejected")
#: Dictionary-encode only the low-cardinality columns and keep min/max statistics only
#: where they prune (id, label): trying dictionaries and statistics on long texts costs
#: ~40% of the write time for the same file size.
CANONICAL_PARQUET: dict[str, Any] = {
    "use_dictionary": [f"{c}.list.element.{f}" for c in _LISTS for f in ("role", "name")]
    + [f"{c}.list.element.tool_calls.list.element.name" for c in _LISTS]
    + ["source"],
    "write_statistics": ["id", "label"],
}


def output_kind(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if name.endswith(".json"):
        return "json"
    if name.endswith(".csv"):
        return "csv"
    raise FormatError(f"{path}: output must end in .parquet, .jsonl, .json or .csv (optionally .gz)")


def nested_keys(dtype: pl.DataType) -> set[str]:
    """Every struct field name inside a dtype (for dropping ``"key":null`` members)."""
    if isinstance(dtype, pl.Struct):
        out = set()
        for f in dtype.fields:
            out |= {f.name} | nested_keys(f.dtype)
        return out
    if isinstance(dtype, (pl.List, pl.Array)):
        return nested_keys(dtype.inner)  # type: ignore[arg-type]
    return set()


def given_ids(df: pl.DataFrame) -> pl.Expr:
    """Ids worth writing: those that are not the record's content hash (which a reader
    recomputes anyway). Keeps external files free of noise ids and round trips exact."""
    hashed = with_content_ids(df.with_columns(pl.lit(None, dtype=pl.String).alias("id")))["id"]
    return pl.when(pl.col("id") != pl.lit(hashed)).then(pl.col("id"))


def json_lines(df: pl.DataFrame, enc: Encoded, fmt: Format, *, spread_meta: bool = True, include_source: bool = False) -> pl.Series:
    """One compact JSON object per canonical row, in ``fmt``'s layout."""
    frame = enc.frame
    typed = [c for c in frame.columns if c not in enc.json_columns]
    extra_cols: dict[str, pl.Expr] = {}
    if not fmt.carries_record_fields:
        frame = frame.with_columns(df.select(given_ids(df).alias("__id"))["__id"])
        typed = ["__id"] + typed
        if include_source:
            frame = frame.with_columns(df["source"].alias("__source"))
            typed.append("__source")
    def name(c: str) -> str:
        return c.removeprefix("__")

    # external formats leave null fields out; canonical JSONL keeps every column (its
    # detection looks for all of them)
    members = [
        jsontext.member(name(c), jsontext.value(pl.col(c))) if fmt.carries_record_fields
        else pl.when(pl.col(c).is_not_null()).then(jsontext.member(name(c), jsontext.value(pl.col(c))))
        for c in typed
    ]
    keys = set().union(*(nested_keys(frame.schema[c]) for c in typed)) if typed else set()
    line = jsontext.drop_null_members(jsontext.obj(members), keys)
    raw_members = [pl.when(pl.col(c).is_not_null()).then(jsontext.member(c, pl.col(c))) for c in enc.json_columns]
    if raw_members:
        line = jsontext.splice(line, jsontext.obj(raw_members))
    out = frame.select(line.alias("line"))
    if not fmt.carries_record_fields:
        meta = df["meta"]
        reserved = set(frame.columns) | {"id", "source", "meta"} | set(enc.json_columns)
        if spread_meta:
            clash = has_reserved_keys(pl.col("meta"), {name(c) for c in reserved})
            as_text = pl.when(clash).then(jsontext.obj([jsontext.member("meta", jsontext.value(pl.col("meta")))]))
            extra = pl.when(clash).then(as_text).otherwise(pl.col("meta"))
        else:
            extra = pl.when(pl.col("meta").is_not_null()).then(
                jsontext.obj([jsontext.member("meta", jsontext.value(pl.col("meta")))])
            )
        out = pl.DataFrame({"line": out["line"], "meta": meta}).select(jsontext.splice(pl.col("line"), extra).alias("line"))
    return out["line"]


def records_holding(df: pl.DataFrame, field: str) -> int:
    """Records with a non-null message ``field`` (``name``, ``tool_calls.id``...) in any
    of their message lists."""
    head, _, sub = field.partition(".")
    if sub:
        per_message = M.field(head).list.eval(pl.element().struct.field(sub).is_not_null()).list.any()
    else:
        per_message = M.field(head).is_not_null()
    lists = [pl.col(c).list.eval(per_message).list.any().fill_null(False) for c in _LISTS if c in df.columns]
    return int(df.select(pl.any_horizontal(lists).sum()).item()) if lists else 0


class ShardWriter(AtomicOutput):
    """Write canonical shards to ``path`` in ``format``; ``close()`` renames into place."""

    def __init__(self, path: str | Path, format: str = "canonical", **options: Any) -> None:
        self.path = Path(path)
        self.format = get(format)
        self.options = options
        self.kind = output_kind(self.path)
        if self.format.name == "canonical" and self.kind == "json":
            raise FormatError("canonical output is Parquet (or .jsonl / .csv); a JSON array is not supported")
        self.rows = 0
        #: message fields the format cannot hold -> records that lost them (see unheld_fields)
        self.dropped: dict[str, int] = {}
        self._file = AtomicFile(self.path)
        self._stream: IO[bytes] | None = None
        self._parquet: pq.ParquetWriter | None = None
        self._closed = False

    # -- writing ---------------------------------------------------------------------
    def write(self, df: pl.DataFrame) -> None:
        if self._closed:
            raise FormatError("writer is closed")
        with writing(self.path):
            self._write(df)

    def _write(self, df: pl.DataFrame) -> None:
        if self.kind == "parquet":
            self._write_parquet(self._arrow(df))
        elif self.kind == "csv":
            self._write_csv(self._arrow(df))
        else:
            lines = json_lines(
                df, self.format.from_canonical(df, **self._format_options()), self.format,
                spread_meta=self.options.get("spread_meta", True),
                include_source=self.options.get("include_source", False),
            )
            self._write_lines(lines)
        self.rows += df.height
        for name in self.format.unheld_fields(**self._format_options()):
            lost = records_holding(df, name)
            if lost:
                self.dropped[name] = self.dropped.get(name, 0) + lost

    def _format_options(self) -> dict[str, Any]:
        return {k: v for k, v in self.options.items() if k not in ("spread_meta", "include_source", "compression")}

    def _arrow(self, df: pl.DataFrame) -> pa.Table:
        if self.format.name == "canonical":
            return to_arrow(df)
        enc = self.format.from_canonical(df, **self._format_options())
        extra = [given_ids(df).alias("id"), pl.col("meta")]
        if self.options.get("include_source"):
            extra.append(pl.col("source"))
        cols = df.select(extra)
        return pl.concat([enc.frame, cols], how="horizontal").to_arrow()

    def _write_parquet(self, table: pa.Table) -> None:
        if self._parquet is None:
            # the first shard fixes the file's schema; later shards are cast to it
            canonical = self.format.name == "canonical"
            self._schema = CANONICAL_SCHEMA if canonical else table.schema
            tuning: dict[str, Any] = CANONICAL_PARQUET if canonical else {}
            self._parquet = pq.ParquetWriter(
                self._file.tmp, self._schema, compression=self.options.get("compression", "zstd"), **tuning
            )
        self._parquet.write_table(table.cast(self._schema))

    def _write_csv(self, table: pa.Table) -> None:
        """One CSV row per record; nested columns (messages, ...) as JSON text, which the
        CSV reader parses back. The header is written with the first shard only."""
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        flat = frame.select(
            pl.when(pl.col(c).is_not_null()).then(jsontext.value(pl.col(c))).alias(c)
            if isinstance(t, (pl.List, pl.Struct)) else pl.col(c)
            for c, t in frame.schema.items()
        )
        first = self._stream is None
        flat.write_csv(self._open_stream(), include_header=first)

    def _write_lines(self, lines: pl.Series) -> None:
        if not lines.len():
            return
        first = self._stream is None
        stream = self._open_stream()
        sep = ",\n" if self.kind == "json" else "\n"
        # the separator goes *before* each later shard, so close() decides how the file ends
        text = lines.str.join(sep)[0]
        stream.write(((sep if not first else "") + text).encode("utf-8"))

    def _open_stream(self) -> IO[bytes]:
        if self._stream is None:
            gz = self.path.name.lower().endswith(".gz")
            self._stream = gzip.open(self._file.tmp, "wb") if gz else open(self._file.tmp, "wb")  # type: ignore[assignment]
            self._stream.write(b"[\n" if self.kind == "json" else b"")  # type: ignore[union-attr]
        return self._stream  # type: ignore[return-value]

    def close(self) -> Path:
        """Finish the file and move it into place; returns the final path."""
        if self._closed:
            return self.path
        try:
            with writing(self.path):
                self._finish()
            self._closed = True
            return self._file.commit()
        except BaseException:  # a full disk while flushing: leave nothing half-written
            self.abort()
            raise

    def _finish(self) -> None:
        if self.kind == "parquet":
            if self._parquet is None:
                empty = CANONICAL_SCHEMA.empty_table() if self.format.name == "canonical" else None
                if empty is None:
                    raise FormatError("nothing was written; an empty external Parquet file has no schema")
                self._write_parquet(empty)
            self._parquet.close()  # type: ignore[union-attr]
        else:
            stream = self._open_stream()
            if self.kind == "json":
                stream.write(b"\n]\n")
            elif self.rows and self.kind == "jsonl":
                stream.write(b"\n")
            stream.close()

    def abort(self) -> None:
        """Drop the temporary file; the target (if any) is left untouched."""
        for handle in (self._parquet, self._stream):
            if handle is not None:
                with contextlib.suppress(OSError):  # the error being handled already says why
                    handle.close()
        self._closed = True
        self._file.discard()
