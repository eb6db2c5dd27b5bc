"""schemas/: the published JSON Schemas are valid, current, and describe real files."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml
from typer.testing import CliRunner

from dataforge.cli.app import app
from dataforge.cli.main import _load_commands
from dataforge.recipe.schema_files import generated, render, schema_dir

REPO = Path(__file__).resolve().parents[3]
_load_commands()


def test_generated_schemas_are_current():
    for name, schema in generated().items():
        path = REPO / "schemas" / name
        assert path.read_text(encoding="utf-8") == render(schema), (
            f"{path} is stale: run `python -m dataforge.recipe.schema_files`")


def test_every_published_schema_is_a_valid_json_schema_and_ships_in_the_package():
    files = sorted(schema_dir().rglob("*.schema.json"))
    assert {p.name for p in files} >= {"rejected.schema.json", "recipe.schema.json", "manifest.schema.json",
                                       "canonical.schema.json", "sharegpt.schema.json"}
    for path in files:
        doc = json.loads(path.read_text(encoding="utf-8"))
        jsonschema.validators.validator_for(doc).check_schema(doc)


def test_the_shipped_recipe_validates_against_the_recipe_schema():
    schema = generated()["recipe.schema.json"]
    for recipe in sorted((REPO / "recipes").glob("*.yaml")):
        jsonschema.validate(yaml.safe_load(recipe.read_text(encoding="utf-8")), schema)
    bad = {"name": "x", "data": {"inputs": [{"path": "a.jsonl", "fromat": "sharegpt"}]}}
    errors = list(jsonschema.validators.validator_for(schema)(schema).iter_errors(bad))
    assert errors and "fromat" in str(errors[0].message)


def test_schema_command_prints_generated_and_format_schemas():
    for name, title in (("manifest", "Run manifest"), ("sharegpt", "ShareGPT")):
        res = CliRunner().invoke(app, ["schema", name])
        assert res.exit_code == 0 and json.loads(res.output)["title"].startswith(title), res.output
    res = CliRunner().invoke(app, ["schema", "sharegtp"])
    assert res.exit_code == 2 and "did you mean 'sharegpt'" in res.output
