"""Texts out of message-list columns, and masked texts back in, through Arrow offsets.

Every ``content`` of ``messages`` / ``chosen`` / ``rejected`` (optionally only some roles)
and every string value inside ``tool_calls[].arguments`` becomes one text of a flat pool;
masking works on the pool; :meth:`MessageColumn.rebuild` writes the new strings back by
swapping the ``content``/``arguments`` children under the unchanged list offsets, so nulls,
empty lists, other fields and row order are untouched by construction.

Tool-call arguments are JSON: masking the raw JSON text could eat an escape (``\\n`` +
``foo@x.com`` reads as ``nfoo@x.com``) and break it, so the string leaves are masked and
only arguments that changed are re-serialized. Arguments that are not JSON are masked as
plain text. Numbers inside JSON are left alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

import numpy as np
import polars as pl
import pyarrow as pa

from .. import arrow
from ..errors import DataError

POOL_SCHEMA: dict[str, pl.DataType] = {
    "text": pl.String(),
    "row": pl.Int64(),
    "col": pl.Int64(),
    "msg": pl.Int64(),
    "call": pl.Int64(),
    "leaf": pl.Int64(),
    "field": pl.String(),
}


def _starts(lengths: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(lengths) else lengths


def _offsets(lists: pa.Array) -> pa.Array:
    return arrow.int64_array(np.concatenate([[0], np.cumsum(arrow.list_lengths(lists))]))


def _string_leaves(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _string_leaves(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _string_leaves(v)


def _replace_leaves(value: Any, new: Iterator[str]) -> Any:
    if isinstance(value, str):
        return next(new)
    if isinstance(value, list):
        return [_replace_leaves(v, new) for v in value]
    if isinstance(value, dict):
        return {k: _replace_leaves(v, new) for k, v in value.items()}
    return value


@dataclass
class MessageColumn:
    """One list<message> column as Arrow arrays, with the row and turn of every message."""

    name: str
    index: int
    lists: pa.LargeListArray
    messages: pa.StructArray
    rows: np.ndarray
    turns: np.ndarray

    @classmethod
    def of(cls, name: str, index: int, series: pl.Series) -> "MessageColumn":
        lists = series.rechunk().to_arrow()
        messages = lists.flatten()  # skips null lists, as the lengths count them empty
        lengths = arrow.list_lengths(lists)
        rows = np.repeat(np.arange(len(lists)), lengths)
        turns = np.arange(len(messages)) - _starts(lengths)[rows] if len(messages) else rows
        return cls(name, index, lists, messages, rows, turns)

    def _fields(self) -> list[pa.Array]:
        return self.messages.flatten()  # children with the message-level nulls applied

    def _field_index(self, name: str) -> int:
        index = self.messages.type.get_field_index(name)
        if index < 0:  # Arrow answers -1, which would silently read the last field
            raise DataError(f"messages lack the canonical field {name!r}; conform the table first")
        return index

    def contents(self, roles: list[str] | None) -> pl.DataFrame:
        """Pool rows for the non-empty contents (of the given roles)."""
        fields = self._fields()
        content = pl.Series(fields[self._field_index("content")])
        keep = content.is_not_null() & (content.str.len_chars() > 0)
        if roles is not None:
            keep = keep & pl.Series(fields[self._field_index("role")]).is_in(roles)
        idx = keep.arg_true()
        frame = pl.DataFrame(
            {
                "text": content.gather(idx),
                "row": pl.Series(self.rows).gather(idx),
                "msg": idx,
                "turn": pl.Series(self.turns).gather(idx),
            }
        )
        return frame.select(
            "text", "row", pl.lit(self.index).alias("col"), "msg",
            pl.lit(-1).alias("call"), pl.lit(-1).alias("leaf"),
            pl.format("{}[{}].content", pl.lit(self.name), pl.col("turn")).alias("field"),
        ).cast(POOL_SCHEMA)

    def _calls(self) -> tuple[pa.LargeListArray, pa.StructArray, np.ndarray]:
        tool_calls = self._fields()[self._field_index("tool_calls")]
        return tool_calls, tool_calls.flatten(), np.repeat(np.arange(len(tool_calls)), arrow.list_lengths(tool_calls))

    def arguments(self, roles: list[str] | None) -> tuple[pl.DataFrame, dict[int, Any]]:
        """Pool rows for the string leaves of tool-call arguments, and the parsed JSON of
        every call that has some (calls whose arguments are not JSON are absent: raw)."""
        tool_calls, calls, call_msg = self._calls()
        parsed: dict[int, Any] = {}
        if len(calls) == 0:
            return pl.DataFrame(schema=POOL_SCHEMA), parsed
        lengths = arrow.list_lengths(tool_calls)
        call_pos = np.arange(len(calls)) - _starts(lengths)[call_msg]
        args = calls.flatten()[calls.type.get_field_index("arguments")].to_pylist()
        role = self._fields()[self._field_index("role")].to_pylist()
        out = []
        for c, raw in enumerate(args):
            m = int(call_msg[c])
            if not raw or (roles is not None and role[m] not in roles):
                continue
            try:
                obj = json.loads(raw)
                leaves = list(_string_leaves(obj))
                parsed[c] = obj
            except ValueError:
                leaves = [raw]
            where = f"{self.name}[{self.turns[m]}].tool_calls[{call_pos[c]}].arguments"
            out.extend(
                (leaf, int(self.rows[m]), self.index, m, c, k, where)
                for k, leaf in enumerate(leaves)
                if leaf
            )
        frame = pl.DataFrame(out, schema=list(POOL_SCHEMA), orient="row").cast(POOL_SCHEMA)
        return frame, parsed

    def rebuild(
        self, contents: pl.DataFrame, leaves: pl.DataFrame, parsed: dict[int, Any]
    ) -> pl.Series:
        """The column with new ``content`` (rows msg, text) and argument leaves (rows
        call, leaf, text) swapped in; everything else is the original arrays."""
        fields = self._fields()
        if not contents.is_empty():
            i = self._field_index("content")
            content = pl.Series(fields[i]).clone()
            content.scatter(contents["msg"], contents["text"])
            fields[i] = content.to_arrow().cast(fields[i].type)
        if not leaves.is_empty():
            i = self._field_index("tool_calls")
            fields[i] = self._rebuild_calls(leaves, parsed)
        messages = pa.StructArray.from_arrays(
            fields, fields=list(self.messages.type), mask=self.messages.is_null()
        )
        lists = pa.LargeListArray.from_arrays(
            _offsets(self.lists), messages, mask=self.lists.is_null()
        )
        return pl.Series(self.name, lists)

    def _rebuild_calls(self, leaves: pl.DataFrame, parsed: dict[int, Any]) -> pa.Array:
        tool_calls, calls, _ = self._calls()
        call_fields = calls.flatten()
        i = calls.type.get_field_index("arguments")
        args = pl.Series(call_fields[i]).clone()
        new_args, positions = [], []
        for (c,), group in leaves.group_by("call"):
            changed = dict(zip(group["leaf"].to_list(), group["text"].to_list()))
            if c in parsed:
                original = list(_string_leaves(parsed[c]))
                merged = (changed.get(k, v) for k, v in enumerate(original))
                text = json.dumps(_replace_leaves(parsed[c], merged), ensure_ascii=False)
            else:
                text = changed[0]
            positions.append(c)
            new_args.append(text)
        args.scatter(positions, new_args)
        call_fields[i] = args.to_arrow().cast(call_fields[i].type)
        new_calls = pa.StructArray.from_arrays(
            call_fields, fields=list(calls.type), mask=calls.is_null()
        )
        return pa.LargeListArray.from_arrays(
            _offsets(tool_calls), new_calls, mask=tool_calls.is_null()
        )


@dataclass
class TextPool:
    """All texts to mask, one per row of ``frame``, in record order (row, column, turn,
    tool call, leaf): the order pseudonyms are numbered in."""

    frame: pl.DataFrame
    columns: list[MessageColumn]
    parsed: list[dict[int, Any]]

    @classmethod
    def collect(
        cls,
        records: pl.DataFrame,
        columns: Iterable[str],
        roles: list[str] | None,
        tool_arguments: bool,
    ) -> "TextPool":
        cols, parts, parsed = [], [], []
        for k, name in enumerate(columns):
            col = MessageColumn.of(name, k, records[name])
            cols.append(col)
            parts.append(col.contents(roles))
            if tool_arguments:
                frame, calls = col.arguments(roles)
                parts.append(frame)
                parsed.append(calls)
            else:
                parsed.append({})
        frame = pl.concat(parts) if parts else pl.DataFrame(schema=POOL_SCHEMA)
        return cls(frame.sort(["row", "col", "msg", "call", "leaf"]), cols, parsed)

    def write_back(self, records: pl.DataFrame, new_texts: pl.Series) -> pl.DataFrame:
        """``records`` with every changed pool text put back where it came from."""
        changed = self.frame.with_columns(new_texts.alias("new")).filter(
            pl.col("new") != pl.col("text")
        )
        updates = []
        for col in self.columns:
            mine = changed.filter(pl.col("col") == col.index)
            if mine.is_empty():
                continue
            contents = mine.filter(pl.col("call") < 0).select("msg", pl.col("new").alias("text"))
            leaves = mine.filter(pl.col("call") >= 0).select(
                "call", "leaf", pl.col("new").alias("text")
            )
            new = col.rebuild(contents, leaves, self.parsed[col.index])
            updates.append(new.cast(records.schema[col.name]))
        return records.with_columns(updates) if updates else records
