"""Each JSON row's own order of the extra keys that become its ``meta``.

A shard is a table, so its columns have one order: the order in which keys first appear
in the shard. A row whose extra keys differ from the rows before it (``{"x_b"}`` then
``{"x_a", "x_b"}``) or come in another order would get its ``meta`` members reordered,
and writing then re-reading a file would change ``meta``. So JSON readers record where
each extra key sits in its row, in hidden ``__key_pos.<key>`` columns, and
:func:`~dataforge.formats.extras.meta_expr` orders the members by them.

Only shards with two or more extra keys need it; Parquet and CSV rows all share the
file's column order.
"""

from __future__ import annotations

import json
import re
from typing import Any, Sequence

import numpy as np
import polars as pl
import pyarrow as pa

from ..base import Plan

PREFIX = "__key_pos."
_NOT_EXTRA = ("id", "source", "meta", "_extras_json")  # passthrough columns and objects.EXTRAS_JSON


def extra_keys(frame: pl.DataFrame, plan: Plan) -> list[str]:
    """Columns of a raw frame that no plan column reads (they go to ``meta``)."""
    known = set(plan.columns)
    return [c for c in frame.columns if c not in known and c not in _NOT_EXTRA and not c.startswith(PREFIX)]


def block_lines(block: bytes, line_ends: np.ndarray, indexes: Sequence[int]) -> pl.Series:
    """Lines ``indexes`` (0-based) of a JSON Lines block as a string column: a view of the
    block's own buffer (each line keeps its newline), no Python loop."""
    offsets = np.concatenate(([0], line_ends + 1)).astype(np.int64)
    lines = pa.LargeStringArray.from_buffers(len(line_ends), pa.py_buffer(offsets), pa.py_buffer(block))
    chosen = lines.take(pa.array(indexes, type=pa.int64()))
    chosen.validate(full=True)  # UTF-8, before polars sees it
    return pl.from_arrow(chosen).alias("line")  # type: ignore[return-value]


def from_lines(frame: pl.DataFrame, lines: pl.Series, plan: Plan) -> pl.DataFrame:
    """Add each extra key's position in its JSON line (first ``"key":`` in the line)."""
    keys = extra_keys(frame, plan)
    if len(keys) < 2:
        return frame
    patterns = {k: re.escape(json.dumps(k, ensure_ascii=False)) + r"\s*:" for k in keys}
    positions = pl.DataFrame({"line": lines}).select(
        pl.col("line").str.find(p).alias(PREFIX + k) for k, p in patterns.items()
    )
    return frame.hstack(positions)


def from_objects(frame: pl.DataFrame, objs: Sequence[dict[str, Any]], plan: Plan) -> pl.DataFrame:
    """Add each extra key's position among its row's keys (parsed rows keep their order)."""
    keys = extra_keys(frame, plan)
    if len(keys) < 2:
        return frame
    order = [{k: i for i, k in enumerate(o)} for o in objs]
    return frame.hstack([pl.Series(PREFIX + k, [o.get(k) for o in order], dtype=pl.Int32) for k in keys])
