"""Recipe validation: errors name the file, the line and the field (or the --set override),
typos suggest the nearest key, ${VAR}s come from the environment, and a stage order that
cannot work is refused before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataforge.recipe import RecipeError, load_recipe

REPO = Path(__file__).resolve().parents[3]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(text, encoding="utf-8")
    return path


SHIPPED = ["medical_qa", "ecommerce_cs", "math_grpo", "toolcall_sft", "identity_dpo", "continual_replay"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_recipes_validate_and_plan_data_to_report(name):
    from dataforge.recipe.stages import plan

    recipe, folder = load_recipe(REPO / "recipes" / f"{name}.yaml")
    assert recipe.name == name and folder == REPO / "recipes"
    names = [s.name for s in plan(recipe)]
    assert names[0].startswith("data") and names[-1] == "report"
    assert any(n.startswith("train.") for n in names) and sum(n.startswith("eval.") for n in names) >= 4
    assert recipe.eval is not None and any(s.role == "general" for s in recipe.eval.sets)  # forgetting is measured
    text = (REPO / "recipes" / f"{name}.yaml").read_text(encoding="utf-8")
    assert "GPU:" in text  # says what to change for a real model


def test_medical_recipe_trains_and_compares_with_the_base_model():
    recipe, _ = load_recipe(REPO / "recipes" / "medical_qa.yaml")
    assert [s.stage for s in recipe.train] == ["sft"] and recipe.eval_baseline() == "base"
    assert recipe.eval_models() == ["sft"] and recipe.eval.judge is not None
    assert set(recipe.eval.metrics) >= {"ppl", "bleu", "bertscore", "distinct", "self_bleu"}


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
    assert f"{path}:5: data.inputs.0.fromat: unknown key (did you mean 'format'?)" in message
    assert f"{path}:6: data.ops:" in message and "needs an `op:` key" in message
    assert f"{path}:10: eval.metrics:" in message


def test_missing_required_section_points_at_parent(tmp_path):
    path = _write(tmp_path, "name: t\n")
    with pytest.raises(RecipeError, match=r"recipe.yaml:1: <root>: Value error, give either `data`"):
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


RECIPE = """\
name: t
data:
  inputs:
    - path: {data}
  split: {{test_ratio: 0.25}}
train:
  - stage: sft
    args: {{max_steps: 3}}
  - stage: dpo
eval:
  sets:
    - {{name: test, data: test}}
  metrics: [bleu]
"""


def _recipe(tmp_path: Path, text: str = RECIPE) -> Path:
    return _write(tmp_path, text.format(data=REPO / "recipes" / "data" / "medical_qa.jsonl"))


def test_typos_suggest_the_nearest_key_at_every_level(tmp_path):
    text = RECIPE.replace("train:", "trian:").replace("  sets:", "  set:")
    with pytest.raises(RecipeError) as info:
        load_recipe(_recipe(tmp_path, text))
    message = str(info.value)
    assert "recipe.yaml:6: trian: unknown key (did you mean 'train'?)" in message
    assert "recipe.yaml:11: eval.set: unknown key (did you mean 'sets'?)" in message
    text = RECIPE.replace("args: {{max_steps: 3}}", "args: {{max_step: 3, adapter: {{rnak: 4}}}}")
    with pytest.raises(RecipeError) as info:
        load_recipe(_recipe(tmp_path, text))
    message = str(info.value)  # the stage config's own keys, located at the args line
    assert "recipe.yaml:8: train.0.args: unknown parameter 'max_step' (did you mean 'max_steps'" in message
    assert "recipe.yaml:8: train.0.args.adapter: unknown parameter 'rnak' (did you mean 'rank'?)" in message
    text = RECIPE.replace("  - stage: dpo\n", "  - stage: dpo\n    form: sft\n")
    with pytest.raises(RecipeError, match=r"recipe.yaml:10: train.1.form: unknown key \(did you mean 'from'\?\)"):
        load_recipe(_recipe(tmp_path, text))


def test_overrides_are_validated_like_the_file_and_errors_name_them(tmp_path):
    path = _recipe(tmp_path)
    recipe, _ = load_recipe(path, ["train.0.args.max_steps=5", "eval.limit=4", "train.1.from=base"])
    assert recipe.train[0].args["max_steps"] == 5 and recipe.eval.limit == 4 and recipe.train[1].from_ == "base"
    with pytest.raises(RecipeError, match=r"--set train.0.args.max_steps=many: train.0.args.max_steps: "
                                          r"Input should be a valid integer"):
        load_recipe(path, ["train.0.args.max_steps=many"])
    with pytest.raises(RecipeError, match=r"--set eval.limt=4: eval.limt: unknown key \(did you mean 'limit'\?\)"):
        load_recipe(path, ["eval.limt=4"])
    with pytest.raises(RecipeError, match=r"--set train.5.args.max_steps=1: train.5: the list has 2 item\(s\)"):
        load_recipe(path, ["train.5.args.max_steps=1"])
    with pytest.raises(RecipeError, match=r"--set eval.limit: expected KEY=VALUE"):
        load_recipe(path, ["eval.limit"])


def test_environment_variables_fill_strings(tmp_path, monkeypatch):
    text = RECIPE.replace("name: t\n", "name: ${{RUN_NAME:-fallback}}\ndescription: by ${{AUTHOR}}\n", 1)
    monkeypatch.setenv("AUTHOR", "Acme 实验室")
    recipe, _ = load_recipe(_recipe(tmp_path, text))
    assert recipe.name == "fallback" and recipe.description == "by Acme 实验室"
    monkeypatch.setenv("RUN_NAME", "from_env")
    assert load_recipe(_recipe(tmp_path, text))[0].name == "from_env"
    monkeypatch.delenv("AUTHOR")
    with pytest.raises(RecipeError, match=r"recipe.yaml:2: description: environment variable AUTHOR is not set"):
        load_recipe(_recipe(tmp_path, text))


@pytest.mark.parametrize("change, where", [
    (("  - stage: sft\n", "  - stage: sft\n    from: dpo\n"),
     r"recipe.yaml:8: train.0.from: 'dpo' is a later stage: a stage starts from `base` or an earlier stage"),
    (("  - stage: dpo\n", "  - stage: dpo\n    data: [synth.dpo]\n"),
     r"recipe.yaml:10: train.1.data.0: 'synth.dpo' is not a dataset of this run .*need a best_of_k step"),
    (("  - stage: dpo\n", "  - stage: dop\n"),
     r"recipe.yaml:9: train.1.stage: unknown stage 'dop' \(did you mean 'dpo'\?\)"),
    (("  - stage: dpo\n", "  - stage: sft\n"),
     r"recipe.yaml:9: train.1.name: stage name 'sft' is taken"),
    (("  metrics: [bleu]\n", "  metrics: [bleu]\n  models: [sfft]\n"),
     r"recipe.yaml:14: eval.models.0: 'sfft' is not `base` nor a train stage \(did you mean 'sft'\?\)"),
    (("{{name: test, data: test}}", "{{name: test, data: tset}}"),
     r"recipe.yaml:12: eval.sets.0.data: 'tset' is not a dataset of this run .*did you mean 'test'"),
    (("  split: {{test_ratio: 0.25}}\n", ""),
     r"recipe.yaml:11: eval.sets.0.data: 'test' is not a dataset .*add `split:`"),
    (("  metrics: [bleu]\n", "  metrics: [bleu]\n  judge: {{sets: [tset]}}\n"),
     r"recipe.yaml:14: eval.judge.sets.0: no eval set 'tset' \(did you mean 'test'\?\)"),
])
def test_stage_orders_and_references_that_cannot_work_are_refused(tmp_path, change, where):
    with pytest.raises(RecipeError, match=where):
        load_recipe(_recipe(tmp_path, RECIPE.replace(*change)))
