"""Recipe validation: errors name the file, the line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataforge.recipe import RecipeError, load_recipe

REPO = Path(__file__).resolve().parents[3]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_recipe_validates():
    recipe, folder = load_recipe(REPO / "recipes" / "medical_qa.yaml")
    assert recipe.name == "medical_qa" and folder == REPO / "recipes"
    assert recipe.data.split is not None and recipe.eval is not None
    assert (folder / recipe.data.inputs[0].path).is_file()


def test_errors_name_file_line_and_field(tmp_path):
    path = _write(
        tmp_path,
        "name: t\n"
        "data:\n"
        "  inputs:\n"
        "    - path: x.jsonl\n"
        "      fromat: sharegpt\n"
        "  ops:\n"
        "    - normalize\n"
        "    - {threshold: 0.5}\n"
        "eval:\n"
        "  metrics: []\n",
    )
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    message = str(info.value)
    assert f"{path}:5: data.inputs.0.fromat: Extra inputs are not permitted" in message
    assert f"{path}:7: data.ops:" in message and "needs an `op:` key" in message
    assert f"{path}:10: eval.metrics:" in message


def test_missing_required_section_points_at_parent(tmp_path):
    path = _write(tmp_path, "name: t\n")
    with pytest.raises(RecipeError, match=r"recipe.yaml:1: data: Field required"):
        load_recipe(path)


def test_invalid_yaml_is_located(tmp_path):
    path = _write(tmp_path, "name: t\ndata: [unclosed\n")
    with pytest.raises(RecipeError, match=r"recipe.yaml:\d+: invalid YAML"):
        load_recipe(path)


def test_a_duplicate_key_is_refused_with_both_lines(tmp_path):
    """YAML keeps the last of two equal keys silently; a recipe must say one thing."""
    (tmp_path / "x.jsonl").write_text("", encoding="utf-8")
    path = _write(
        tmp_path,
        "name: 甲\n"
        "data:\n"
        "  inputs:\n"
        "    - path: x.jsonl\n"
        "  ops: [normalize]\n"
        "  ops: [dedup.exact]\n"
        "  split: {test_ratio: 0.1, test_ratio: 0.2}\n"
        "name: 乙\n",
    )
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert str(info.value).splitlines()[1:] == [
        f"{path}:6: duplicate key 'ops' (first at line 5)",
        f"{path}:7: duplicate key 'test_ratio' (first at line 7)",
        f"{path}:8: duplicate key 'name' (first at line 1)",
    ]


def test_an_op_string_that_is_not_valid_yaml_is_located(tmp_path):
    (tmp_path / "x.jsonl").write_text("", encoding="utf-8")
    path = _write(tmp_path, "name: t\ndata:\n  inputs: [{path: x.jsonl}]\n  ops:\n    - 'filter.length:max_record=[1,2'\n")
    with pytest.raises(RecipeError, match=r"recipe.yaml:5: data.ops.0: .*'max_record' is not valid YAML"):
        load_recipe(path)


def test_bad_run_name_and_ratio(tmp_path):
    path = _write(
        tmp_path,
        "name: has space\ndata:\n  inputs: [{path: a.jsonl}]\n  split: {test_ratio: 1.5}\n",
    )
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert f"{path}:1: name:" in str(info.value)
    assert f"{path}:4: data.split.test_ratio:" in str(info.value)


def test_semantic_errors_are_located_before_anything_runs(tmp_path):
    data = REPO / "recipes" / "data" / "medical_qa.jsonl"
    path = _write(
        tmp_path,
        "name: t\n"
        "data:\n"
        "  inputs:\n"
        f"    - path: {data}\n"
        "    - path: missing.jsonl\n"
        "  ops:\n"
        "    - normalise\n"
        "    - {op: dedup.near, treshold: 0.7}\n"
        "    - dedup.exact\n"
        "eval:\n"
        "  metrics: [bleu, blue]\n"
        "  metric_params: {bleu: {tokenise: zh}}\n"
        "  engine: transformer\n"
        "  engine_options: {batch_sise: 4}\n",
    )
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    message = str(info.value)
    assert f"{path}:5: data.inputs.1.path: no such file:" in message
    assert f"{path}:7: data.ops.0: unknown op 'normalise' (did you mean 'normalize'?)" in message
    assert f"{path}:8: data.ops.1: op 'dedup.near': unknown parameter 'treshold' (did you mean 'threshold'?)" in message
    assert f"{path}:11: eval.metrics.1: unknown metric 'blue' (did you mean 'bleu'?)" in message
    assert f"{path}:12: eval.metric_params.bleu: metric 'bleu': unknown parameter 'tokenise' (did you mean 'tokenize'?)" in message
    assert f"{path}:13: eval.engine: unknown engine 'transformer' (did you mean 'transformers'?)" in message
    path.write_text(path.read_text().replace("engine: transformer\n", "engine: transformers\n"))
    with pytest.raises(RecipeError, match=r"recipe.yaml:14: eval.engine_options: engine 'transformers': "
                                          r"unknown parameter 'batch_sise' \(did you mean 'batch_size'\?\)"):
        load_recipe(path)
    assert "data.ops.2" not in message and "eval.metrics.0" not in message
