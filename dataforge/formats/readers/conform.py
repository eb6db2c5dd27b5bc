"""Bring a raw frame's columns to the types a format's :class:`Plan` expects.

Readers produce frames whose types come from the file (Parquet schema, inferred JSON,
CSV strings). Adapters want the plan's types exactly. This module bridges the two with
expressions only: nested structs are projected onto the plan's fields (keys the plan
does not know are reported, never silently dropped), all-null columns are cast, and a
column that cannot be bridged is reported as incompatible so the reader can locate the
offending rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl
import pyarrow as pa

from ...schemas.jsonschema import arrow_jsonschema
from ...schemas.record import polars_schema
from ..base import Plan


@dataclass
class Conformed:
    frame: pl.DataFrame
    #: plan column -> the incompatible dtype the file holds
    incompatible: dict[str, pl.DataType] = field(default_factory=dict)
    #: nested keys present in the file that the plan does not read (e.g. ``conversations[].weight``)
    ignored: set[str] = field(default_factory=set)


def plan_dtypes(plan: Plan) -> dict[str, pl.DataType]:
    """The plan's Arrow schema as polars dtypes."""
    return polars_schema(plan.schema)


def project(expr: pl.Expr, have: pl.DataType, want: pl.DataType, path: str, ignored: set[str]) -> pl.Expr | None:
    """An expression turning a ``have`` value into ``want``; None if they are incompatible."""
    if have == want:
        return expr
    if have == pl.Null:
        return expr.cast(want)
    if isinstance(want, pl.Struct) and isinstance(have, pl.Struct):
        have_fields = {f.name: f.dtype for f in have.fields}
        parts = []
        for f in want.fields:
            if f.name in have_fields:
                sub = project(expr.struct.field(f.name), have_fields[f.name], f.dtype, f"{path}.{f.name}", ignored)
                if sub is None:
                    return None
                parts.append(sub.alias(f.name))
            else:
                parts.append(pl.lit(None, dtype=f.dtype).alias(f.name))
        want_names = {f.name for f in want.fields}
        ignored.update(f"{path}.{n}" for n in have_fields if n not in want_names)
        return pl.when(expr.is_not_null()).then(pl.struct(parts))
    if isinstance(want, pl.List) and isinstance(have, (pl.List, pl.Array)):
        inner = project(pl.element(), have.inner, want.inner, f"{path}[]", ignored)  # type: ignore[union-attr]
        return None if inner is None else expr.list.eval(inner) if isinstance(have, pl.List) else expr.arr.to_list().list.eval(inner)
    if want == pl.String and have == pl.Categorical:
        return expr.cast(pl.String)
    return None


def conform(df: pl.DataFrame, plan: Plan) -> Conformed:
    """Project the plan's columns onto its dtypes; add missing ones as nulls.

    ``id`` is made text (integer ids are common), other columns pass through untouched.
    """
    want = plan_dtypes(plan)
    out = Conformed(df)
    exprs: list[pl.Expr] = []
    for name in df.columns:
        have = df.schema[name]
        if name in want:
            e = project(pl.col(name), have, want[name], name, out.ignored)
            if e is None:
                out.incompatible[name] = have
                e = pl.col(name)
            exprs.append(e.alias(name))
        elif name == "id" and have != pl.String and have.is_numeric():
            exprs.append(pl.col(name).cast(pl.String))
        else:
            exprs.append(pl.col(name))
    missing = [pl.lit(None, dtype=t).alias(n) for n, t in want.items() if n not in df.columns]
    # with_columns broadcasts the null literals to the frame's height (select would not)
    out.frame = df.select(exprs).with_columns(missing) if exprs else pl.DataFrame(schema=want).clear(df.height)
    return out


def plan_jsonschema(plan: Plan) -> dict:
    # id/source/meta are not checked: any JSON value is kept as text (see objects.check_objects)
    return {"type": "object", "properties": {f.name: arrow_jsonschema(f.type) for f in plan.schema}}
