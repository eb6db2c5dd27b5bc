"""Every task recipe runs end to end (``dataforge run``, kept short with ``--set``): its data
cleaned, its stages trained with TRL on the embedded model, the trained model compared with
its baseline on the task's eval set and a general set, and the report written. Each test
then checks what its task is about (medical_qa, the main job, is tested in
tests/dataforge/recipe/test_run.py)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from dataforge.cli.app import app
from dataforge.cli.main import _load_commands

REPO = Path(__file__).resolve().parents[2]
_load_commands()

#: shared by every recipe: three eval items per set, eight new tokens, fewer resamples
SHORT = ["eval.limit=3", "eval.generation.max_new_tokens=8", "eval.bootstrap.n_boot=200"]


def run_recipe(name: str, tmp_path: Path, *sets: str, env: dict[str, str] | None = None) -> Path:
    args = ["run", str(REPO / "recipes" / f"{name}.yaml"), "--runs-dir", str(tmp_path / "runs")]
    for item in [*SHORT, f"eval.cache_path={tmp_path / 'gen.sqlite'}", *sets]:
        args += ["--set", item]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200", **(env or {})})
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / name
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "complete"
    assert (run / "report" / "report.html").is_file() and (run / "report" / "report.md").is_file()
    return run


def summary(run: Path) -> dict:
    return json.loads((run / "report" / "summary.json").read_text(encoding="utf-8"))


def scores(run: Path, model: str, eval_set: str) -> dict:
    return json.loads((run / f"eval.{model}.{eval_set}" / "run" / "metrics.json").read_text(encoding="utf-8"))


@pytest.mark.slow
def test_ecommerce_sft_then_dpo_on_best_of_k_pairs(tmp_path):
    run = run_recipe("ecommerce_cs", tmp_path, "train.0.args.max_steps=1", "train.1.args.max_steps=1",
                     "eval.sets.1.limit=3", "eval.judge.max_new_tokens=2", "synth.steps.0.generation.max_new_tokens=12",
                     "synth.steps.0.scorers.length.max_chars=10",
                     f"synth.cache_path={tmp_path / 'synth.sqlite'}")
    pairs = pl.read_parquet(run / "synth" / "dpo.parquet")
    assert pairs.height > 0 and pairs["chosen"].null_count() == 0 and pairs["rejected"].null_count() == 0
    step = json.loads((run / "synth" / "_stage.json").read_text())["stats"]["steps"][0]
    assert step["step"] == "best_of_k" and step["score_counts"]  # the histogram the report draws
    dpo = json.loads((run / "train.dpo" / "summary.json").read_text())
    assert dpo["stage"] == "dpo" and dpo["data"]["records"] == pairs.height
    # DPO trained on top of SFT: its adapter records the SFT stage as its base
    config = json.loads((run / "train.dpo" / "adapter" / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str(run / "train.sft" / "adapter")
    head = summary(run)
    assert head["candidates"] == ["dpo"] and "dpo" in head["sets"]["conversations"]["win_rate"]
    assert "## Synthesis" in (run / "report" / "report.md").read_text(encoding="utf-8")


@pytest.mark.slow
def test_math_grpo_rewards_with_the_verifier_and_reports_accuracy_before_and_after(tmp_path):
    run = run_recipe("math_grpo", tmp_path, "train.0.args.max_steps=1", "train.0.args.max_completion_length=8",
                     "train.0.args.num_generations=2", "train.0.args.per_device_train_batch_size=2",
                     "eval.sets.1.limit=3")
    grpo = json.loads((run / "train.grpo" / "summary.json").read_text())
    assert grpo["stage"] == "grpo" and "rewards/verifiers/mean" in grpo["final_metrics"]
    before, after = scores(run, "base", "math")["accuracy"], scores(run, "grpo", "math")["accuracy"]
    assert "extract-final" in before["signature"] and 0.0 <= after["score"] <= 1.0
    assert set(summary(run)["sets"]["math"]["deltas"]["grpo"]) == {"accuracy"}


@pytest.mark.slow
def test_toolcall_sft_reports_json_and_tool_call_validity_before_and_after(tmp_path):
    run = run_recipe("toolcall_sft", tmp_path, "train.0.args.max_steps=1", "train.0.args.per_device_train_batch_size=2",
                     "eval.sets.1.limit=3",
                     "eval.generation.max_new_tokens=24")
    # the tool-aware template trained with, saved beside the adapter and in the merged model
    template = (REPO / "recipes" / "templates" / "chatml_tools.jinja").read_text(encoding="utf-8")
    merged = json.loads((run / "train.sft" / "merged" / "tokenizer_config.json").read_text())
    saved = merged.get("chat_template") or (run / "train.sft" / "merged" / "chat_template.jinja").read_text()
    assert saved == template
    for model in ("base", "sft"):
        metrics = scores(run, model, "tools")
        assert {"json_valid", "tool_call_valid"} <= set(metrics) and metrics["json_valid"]["score"] is not None
    data = json.loads((run / "data" / "_stage.json").read_text())["stats"]
    assert data["rejected"] == 9  # 4 planted in the OpenAI file, 5 in the ShareGPT file
    assert set(summary(run)["sets"]["tools"]["deltas"]["sft"]) == {"json_valid", "tool_call_valid", "exact_match"}


@pytest.mark.slow
def test_identity_sft_then_dpo_with_name_and_author_from_the_environment(tmp_path):
    env = {"ASSISTANT_NAME": "Xiaozhi 小智", "ASSISTANT_AUTHOR": "Acme Labs"}
    run = run_recipe("identity_dpo", tmp_path, "train.0.args.max_steps=1", "train.1.args.max_steps=1",
                     "eval.sets.1.limit=3", env=env)
    for dataset in ("identity", "pairs", "questions"):
        text = pl.read_parquet(run / f"data.{dataset}" / "train.parquet").write_ndjson()
        assert "[[NAME]]" not in text and "[[AUTHOR]]" not in text
        assert "Xiaozhi 小智" in text and ("Acme Labs" in text or dataset == "questions")
    rejected = pl.read_parquet(next((run / "data.identity" / "rejected").glob("*placeholders*.parquet")))
    assert rejected["id"].to_list() == ["id-en-llamafactory-leftover"]  # {{name}}: a slot nobody filled
    refs = pl.read_parquet(run / "eval.dpo.identity" / "run" / "predictions.parquet")["reference"].to_list()
    assert any("Xiaozhi 小智" in r for r in refs)
    manifest = json.loads((run / "manifest.json").read_text())
    assert "Xiaozhi 小智" in manifest["recipe"]["description"]


@pytest.mark.slow
def test_continual_training_shows_forgetting_with_and_without_replay(tmp_path):
    run = run_recipe("continual_replay", tmp_path, *[f"train.{i}.args.max_steps=1" for i in range(3)],
                     "eval.sets.2.limit=3")
    mix = pl.read_parquet(run / "train.finance_replay" / "replay_mix.parquet")
    finance = pl.read_parquet(run / "data.finance" / "train.parquet")
    taken = mix["meta"].str.json_path_match("$.mix_input").value_counts().rows()
    assert dict(taken) == {"new": finance.height, "replay": round(finance.height * 0.3 / 0.7)}
    assert not (run / "train.finance" / "replay_mix.parquet").exists()
    head = summary(run)
    assert head["baseline"] == "medical" and head["candidates"] == ["finance", "finance_replay"]
    assert head["replay"] == {"finance_replay": 0.3}
    for eval_set in ("medical", "general"):  # the first domain and general knowledge: forgetting
        assert head["sets"][eval_set]["role"] == "general"
        assert set(head["sets"][eval_set]["deltas"]) == {"finance", "finance_replay"}
    markdown = (run / "report" / "report.md").read_text(encoding="utf-8")
    forgetting = markdown.split("## Forgetting")[1].split("\n## ")[0]
    assert "| finance | no | medical |" in forgetting and "| finance_replay | 30% | medical |" in forgetting
