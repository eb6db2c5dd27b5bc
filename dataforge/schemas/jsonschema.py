"""JSON Schema for Arrow types: which JSON values convert to a column's type.

Readers validate rows against it on the slow path (so a row that passes always
converts, and one that fails is rejected naming its field) and ``schemas/`` publishes
the rejected table's schema with it.
"""

from __future__ import annotations

import pyarrow as pa


def arrow_jsonschema(t: pa.DataType) -> dict:
    """JSON Schema accepting exactly the JSON values that convert to Arrow type ``t``.

    The slow path validates rows against it, so a row that passes always converts, and a
    row that fails gets an error naming the field (``conversations[2].value``).
    """
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return {"type": ["string", "null"]}
    if pa.types.is_boolean(t):
        return {"type": ["boolean", "null"]}
    if pa.types.is_integer(t):
        return {"type": ["integer", "null"]}
    if pa.types.is_floating(t):
        return {"type": ["number", "null"]}
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return {"type": ["array", "null"], "items": arrow_jsonschema(t.value_type)}
    if pa.types.is_struct(t):
        return {
            "type": ["object", "null"],
            "properties": {t.field(i).name: arrow_jsonschema(t.field(i).type) for i in range(t.num_fields)},
        }
    raise TypeError(f"no JSON Schema for Arrow type {t}")
