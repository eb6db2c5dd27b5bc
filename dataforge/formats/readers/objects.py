"""The slow path: parsed JSON objects -> typed table, locating every bad row.

Readers use it only when the column-wise fast path fails on a shard (a malformed line,
a wrong type, JSON text fields given as objects). Rows are checked one by one against a
JSON Schema derived from the plan, so the rejection names the exact field, and the good
rows are converted with Arrow's own type inference.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Sequence

import polars as pl
import pyarrow as pa

from ..base import Plan, json_kind
from . import hazards, keyorder
from .hazards import path_str
from .conform import Conformed, conform, plan_dtypes, plan_jsonschema

#: a rejection before it becomes a row of the rejected table
Reject = dict[str, Any]

EXTRAS_JSON = "_extras_json"


def reject(reason: str, row: int, detail: str, raw: str | None, field: str | None = None) -> Reject:
    return {"reason": reason, "field": field, "detail": detail, "source_row": row, "raw": raw}


if TYPE_CHECKING:
    import jsonschema


@lru_cache(maxsize=64)
def _validator(schema_json: str) -> "jsonschema.protocols.Validator":
    import jsonschema  # only the slow path needs it: a third of `convert`'s start-up

    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def validator_for(plan: Plan) -> "jsonschema.protocols.Validator":
    return _validator(json.dumps(plan_jsonschema(plan), sort_keys=True))


def _to_json_text(obj: dict[str, Any], path: tuple[str, ...]) -> None:
    """Serialize non-string values at ``path`` (``*`` = every list item) in place."""
    head, rest = path[0], path[1:]
    if head == "*":
        items = obj if isinstance(obj, list) else []
        for item in items:
            if rest and isinstance(item, (dict, list)):
                _to_json_text(item, rest)  # type: ignore[arg-type]
        return
    if not isinstance(obj, dict) or head not in obj:
        return
    if not rest:
        v = obj[head]
        if v is not None and not isinstance(v, str):
            obj[head] = json.dumps(v, ensure_ascii=False)
        return
    if isinstance(obj[head], (dict, list)):
        _to_json_text(obj[head], rest)  # type: ignore[arg-type]


def check_objects(
    objs: Sequence[Any], rows: Sequence[int], raw_of: Callable[[int], str | None], plan: Plan
) -> tuple[list[dict[str, Any]], list[int], list[int], list[Reject]]:
    """Validate rows against the plan; returns good objects, their rows and positions, rejects."""
    from jsonschema.exceptions import best_match

    validator = validator_for(plan)
    good: list[dict[str, Any]] = []
    good_rows: list[int] = []
    positions: list[int] = []
    rejects: list[Reject] = []
    for pos, (obj, row) in enumerate(zip(objs, rows)):
        if not isinstance(obj, dict):
            rejects.append(reject("wrong_type", row, f"a row must be a JSON object, got {json_kind(obj)}", raw_of(pos)))
            continue
        hazard = hazards.problem(obj)
        if hazard is not None:
            reason, where, detail = hazard
            rejects.append(reject(reason, row, detail, raw_of(pos), where))
            continue
        obj = dict(obj)
        for path in plan.json_text:
            _to_json_text(obj, path)
        for key in ("id", "source"):  # kept as text whatever their JSON type (as the fast path does)
            if obj.get(key) is not None and not isinstance(obj[key], str):
                obj[key] = _text(obj[key])
        err = best_match(validator.iter_errors(obj))
        if err is not None:
            where = path_str(err.absolute_path)
            expected = err.schema.get("type") if isinstance(err.schema, dict) else None
            expected_s = " or ".join(t for t in (expected or []) if t != "null") or str(expected)
            shown = json.dumps(err.instance, ensure_ascii=False)
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            detail = f"{where or 'row'}: expected {expected_s}, got {json_kind(err.instance)} {shown}"
            rejects.append(reject("wrong_type", row, detail, raw_of(pos), where or None))
            continue
        good.append(obj)
        good_rows.append(row)
        positions.append(pos)
    return good, good_rows, positions, rejects


def build_table(objs: list[dict[str, Any]], plan: Plan) -> Conformed:
    """Validated objects -> conformed frame (extras inferred; mixed-type extras as JSON)."""
    if not objs:
        return conform(pl.DataFrame(schema=plan_dtypes(plan)), plan)
    try:
        table = pa.Table.from_struct_array(pa.array(objs))
        result = conform(pl.from_arrow(table), plan)  # type: ignore[arg-type]
        if not result.incompatible:
            result.frame = keyorder.from_objects(result.frame, objs, plan)
            return result
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    # Extra (non-plan) fields disagree on their type across rows: keep them as JSON text.
    known = set(plan.columns) | {"id", "source", "meta"}
    struct = pa.struct(
        [f for f in plan.schema] + [pa.field(n, pa.string()) for n in ("id", "source", "meta")]
    )
    typed = pa.array([_known_part(o, known) for o in objs], type=struct)
    frame = pl.from_arrow(pa.Table.from_struct_array(typed))
    extras = [
        json.dumps({k: v for k, v in o.items() if k not in known}, ensure_ascii=False, separators=(",", ":")) if set(o) - known else None
        for o in objs
    ]
    frame = frame.with_columns(pl.Series(EXTRAS_JSON, extras, dtype=pl.String))  # type: ignore[union-attr]
    return conform(frame, plan)  # type: ignore[arg-type]


def _text(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return hazards.number_text(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _known_part(obj: dict[str, Any], known: set[str]) -> dict[str, Any]:
    out = {k: obj.get(k) for k in known}
    if out["meta"] is not None and not isinstance(out["meta"], str):
        out["meta"] = _text(out["meta"])
    return out


def objects_to_frame(
    objs: Sequence[Any], rows: Sequence[int], raw_of: Callable[[int], str | None], plan: Plan
) -> tuple[Conformed, list[int], list[int], list[Reject]]:
    """check + build: the whole slow path for one shard."""
    good, good_rows, positions, rejects = check_objects(objs, rows, raw_of, plan)
    return build_table(good, plan), good_rows, positions, rejects
