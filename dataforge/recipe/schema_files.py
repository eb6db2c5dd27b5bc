"""The generated JSON Schemas in ``schemas/``: rejected table, recipe, run manifest.

The format schemas in ``schemas/formats/`` are written by hand (they describe other
people's layouts); these three describe posttrain's own files and are derived from the
code, so they cannot drift: ``tests/test_schema_files.py`` fails when a file is stale, and
``python -m dataforge.recipe.schema_files`` rewrites them.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..schemas.jsonschema import arrow_jsonschema
from ..schemas.record import CANONICAL_SCHEMA
from ..schemas.rejected import REJECT_INFO_SCHEMA, empty_rejected
from .manifest import RunManifest
from .model import Recipe

_BASE = "https://posttrain.dev/schemas/"


def schema_dir() -> Path:
    """The installed ``schemas`` folder (``dataforge._schemas``)."""
    return Path(str(resources.files("dataforge._schemas")))


def _rejected() -> dict[str, Any]:
    arrow = pa.schema([*CANONICAL_SCHEMA, *empty_rejected().select(list(REJECT_INFO_SCHEMA)).to_arrow().schema])
    props = {f.name: arrow_jsonschema(f.type) for f in arrow}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": _BASE + "rejected.schema.json",
        "title": "Rejected row",
        "description": "A row of a rejected folder (NN-<stage>.parquet): the canonical record "
                       "(null when the row never became one) plus why it was not kept.",
        "type": "object",
        "properties": props,
        "required": list(REJECT_INFO_SCHEMA)[:2],
    }


def _model(model: Any, name: str, title: str) -> dict[str, Any]:
    schema = model.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": _BASE + name,
            "title": title, **{k: v for k, v in schema.items() if k != "title"}}


def generated() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema of every generated schema."""
    return {
        "rejected.schema.json": _rejected(),
        "recipe.schema.json": _model(Recipe, "recipe.schema.json", "Recipe"),
        "manifest.schema.json": _model(RunManifest, "manifest.schema.json", "Run manifest"),
    }


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    folder = Path(__file__).resolve().parents[2] / "schemas"
    for name, schema in generated().items():
        (folder / name).write_text(render(schema), encoding="utf-8")
        print(f"wrote {folder / name}")


if __name__ == "__main__":
    main()
