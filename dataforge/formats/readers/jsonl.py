"""JSON Lines in blocks of whole lines: Arrow's JSON reader first, line by line only if
that block fails.

Each block goes through Arrow's multi-threaded JSON reader with the format's explicit
schema (strict: a wrong type is an error, not a silent cast). Only a block that fails is
re-read line by line to find the bad lines (:mod:`objects`); its good lines still convert.
Line numbers count blank lines, so they match an editor.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.json as pajson

from ..base import Plan
from . import hazards, keyorder
from .conform import conform
from .objects import Reject, objects_to_frame, reject
from .shard import RawShard
from .textio import open_binary

CHUNK = 8 << 20
ARROW_BLOCK = 4 << 20


def iter_line_blocks(path: Path, lines_per_block: int, max_bytes: int | None = None) -> Iterator[tuple[bytes, int]]:
    """Blocks of whole lines (each ending in ``\\n``): at most ``lines_per_block`` lines and,
    when ``max_bytes`` is given, at most that many bytes (but always at least one line)."""
    first_line = 1
    pending: list[bytes] = []
    newlines = size = 0
    limit = max_bytes or (1 << 62)
    with open_binary(path) as f:
        chunk = f.read(CHUNK).removeprefix(b"\xef\xbb\xbf")
        while chunk:
            pending.append(chunk)
            newlines += chunk.count(b"\n")
            size += len(chunk)
            while newlines >= lines_per_block or (size >= limit and newlines):
                buf = b"".join(pending)
                ends = np.flatnonzero(np.frombuffer(buf, dtype=np.uint8) == 10)
                fits = int(np.searchsorted(ends, limit, side="left"))  # lines ending within the limit
                lines = max(1, min(lines_per_block, fits))
                cut = int(ends[lines - 1]) + 1
                yield buf[:cut], first_line
                first_line += lines
                newlines -= lines
                pending = [buf[cut:]]
                size = len(pending[0])
            chunk = f.read(CHUNK)
    rest = b"".join(pending)
    if rest.strip():
        yield (rest if rest.endswith(b"\n") else rest + b"\n"), first_line


def _line_bounds(block: bytes) -> tuple[np.ndarray, np.ndarray]:
    arr = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(arr == 10)
    starts = np.concatenate(([0], ends[:-1] + 1))
    return starts, ends


def _nonblank_lines(block: bytes) -> np.ndarray:
    """Indexes (0-based) of lines with something other than whitespace."""
    arr = np.frombuffer(block, dtype=np.uint8)
    starts, _ = _line_bounds(block)
    content = ~np.isin(arr, np.array([9, 10, 13, 32], dtype=np.uint8))
    return np.flatnonzero(np.logical_or.reduceat(content, starts))


def _block_text(block: bytes, first_line: int) -> Callable[[Sequence[int]], list[str | None]]:
    """Line number -> original line text, computed lazily (only rejects need it)."""
    cache: dict[str, Any] = {}

    def text(lines: Sequence[int]) -> list[str | None]:
        if "b" not in cache:
            cache["b"] = _line_bounds(block)
        starts, ends = cache["b"]
        out: list[str | None] = []
        for ln in lines:
            i = ln - first_line
            out.append(block[starts[i]:ends[i]].decode("utf-8", errors="replace").rstrip("\r"))
        return out

    return text


def _read_arrow_json(block: bytes, plan: Plan) -> pa.Table:
    parse = pajson.ParseOptions(explicit_schema=plan.schema, unexpected_field_behavior="infer")
    size = ARROW_BLOCK
    while True:
        try:
            return pajson.read_json(
                io.BytesIO(block), read_options=pajson.ReadOptions(block_size=size), parse_options=parse
            )
        except pa.ArrowInvalid as e:
            # One line longer than the block: grow the block and try again.
            if "straddling" not in str(e) or size >= len(block):
                raise
            size = min(size * 4, len(block) + 1)


def jsonl_shard(block: bytes, first_line: int, plan: Plan) -> RawShard:
    lines_text = _block_text(block, first_line)
    n_lines = block.count(b"\n")
    ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10)
    try:
        if hazards.needs_python(block, ends):
            raise ValueError("NaN/Infinity or very deep nesting: parsed line by line")
        table = _read_arrow_json(block, plan)
        # Arrow's JSON reader does not check UTF-8 (polars would panic on a bad string
        # later); a full validation is ~20x cheaper than decoding the block in Python
        table.validate(full=True)
        if hazards.too_deep(table.schema):  # polars crashes on very deep types
            raise ValueError("nesting deeper than the limit")
        if any(pa.types.is_floating(table.schema.field(k).type) for k in ("id", "source") if k in table.column_names):
            # Arrow made the block's ids floats (a fraction, or an integer beyond int64):
            # Python keeps the text the user wrote ("-1" stays "-1", not "-1.0")
            raise ValueError("non-integer ids")
        if table.num_rows == n_lines:
            rows = list(range(first_line, first_line + n_lines))
        else:
            nonblank = _nonblank_lines(block)
            if len(nonblank) != table.num_rows:  # e.g. two objects on one line
                raise ValueError("row count does not match line count")
            rows = (nonblank + first_line).tolist()
        conformed = conform(pl.from_arrow(table), plan)  # type: ignore[arg-type]
        if conformed.incompatible:
            raise ValueError(f"incompatible columns {sorted(conformed.incompatible)}")
        if len(keyorder.extra_keys(conformed.frame, plan)) >= 2:
            lines = keyorder.block_lines(block, ends, [r - first_line for r in rows])
            conformed.frame = keyorder.from_lines(conformed.frame, lines, plan)
        return RawShard(
            conformed.frame, rows, [], len(rows),
            lambda pos: lines_text([rows[p] for p in pos]), conformed.ignored,
        )
    except (pa.ArrowInvalid, ValueError):
        return _jsonl_slow(block, first_line, plan, lines_text)


def _jsonl_slow(block: bytes, first_line: int, plan: Plan, lines_text: Callable) -> RawShard:
    objs: list[Any] = []
    rows: list[int] = []
    rejects: list[Reject] = []
    for i, line in enumerate(block.split(b"\n")[:-1]):
        if not line.strip():
            continue
        ln = first_line + i
        try:
            objs.append(json.loads(line, parse_constant=hazards.refuse_constant, parse_float=hazards.Number))
            rows.append(ln)
        except UnicodeDecodeError as e:
            rejects.append(reject("invalid_json", ln, f"not valid UTF-8 (byte {e.start + 1})", line.decode("utf-8", "replace")))
        except json.JSONDecodeError as e:
            rejects.append(reject("invalid_json", ln, f"{e.msg} at column {e.colno}", line.decode("utf-8", "replace")))
        except hazards.NotJSON as e:
            rejects.append(reject("invalid_json", ln, f"{e} at column {hazards.constant_column(line)}",
                                  line.decode("utf-8", "replace")))
        except RecursionError:
            detail = f"nests arrays/objects deeper than {hazards.MAX_DEPTH} levels"
            rejects.append(reject("too_deep", ln, detail, line.decode("utf-8", "replace")))
    conformed, good_rows, _, bad = objects_to_frame(objs, rows, lambda p: lines_text([rows[p]])[0], plan)
    return RawShard(
        conformed.frame, good_rows, rejects + bad, len(objs) + len(rejects),
        lambda pos: lines_text([good_rows[p] for p in pos]), conformed.ignored,
    )
