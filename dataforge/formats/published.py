"""The JSON Schema files of the input formats (``schemas/formats/*.schema.json``, shipped
as ``dataforge._schemas``).

They document each format for people and other tools, and validate rows with any JSON
Schema validator; :func:`validator` wires their cross-file ``$ref`` s together.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(str(resources.files("dataforge._schemas"))) / "formats"


def schema_path(name: str) -> Path:
    return SCHEMA_DIR / f"{name}.schema.json"


def load_schema(name: str) -> dict[str, Any]:
    return json.loads(schema_path(name).read_text("utf-8"))


@lru_cache(maxsize=None)
def validator(name: str) -> Any:
    """A jsonschema validator for format ``name`` with every sibling schema resolvable."""
    import jsonschema
    from referencing import Registry, Resource

    resources = []
    for path in sorted(SCHEMA_DIR.glob("*.schema.json")):
        doc = json.loads(path.read_text("utf-8"))
        resources.append((doc["$id"], Resource.from_contents(doc)))
    registry = Registry().with_resources(resources)
    schema = load_schema(name)
    return jsonschema.validators.validator_for(schema)(schema, registry=registry)
