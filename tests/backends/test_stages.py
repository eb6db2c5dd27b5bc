"""Every stage trains for real on CPU: the embedded SmolLM2-135M, LoRA rank 4, two steps on
8-12 tiny Chinese/English records. Each test checks what the stage must leave behind
(finite logged loss, rewards and KL where the stage has them, adapter, curves, summary)
and one property of the stage itself (mask, reference, accuracy, merge equality...).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import polars as pl
import pytest
import torch
from typer.testing import CliRunner

import backends
from backends.builtin.sft import encode
from dataforge import chat_template as ct
from dataforge.cli.app import app
from dataforge.cli.main import _load_commands

pytestmark = pytest.mark.slow

TINY = {"max_steps": 2, "per_device_train_batch_size": 2, "max_length": 192, "gradient_checkpointing": False,
        "adapter": {"rank": 4, "alpha": 8}, "seed": 0}
SAMPLING = {"rewards": {"verifiers": {"math_answer": 1.0, "regex": 0.5}, "verifier_params": {"regex": {"pattern": r"\d"}}},
            "max_completion_length": 8, "temperature": 1.0, "learning_rate": 1e-4}


@pytest.fixture(scope="module")
def data(td, tmp_path_factory):
    folder = tmp_path_factory.mktemp("train-data")
    return {
        "sft": td.write(td.sft(), folder / "sft.parquet"),
        "pairs": td.write(td.pairs(), folder / "pairs.parquet"),
        "kto": td.write(td.kto(), folder / "kto.parquet"),
        "prompts": td.write(td.prompts(), folder / "prompts.parquet"),
    }


def train(stage: str, data_file: Path, out: Path, model: str = "smollm2", **params) -> backends.TrainArtifacts:
    config = backends.stage_config(stage, {**TINY, **params})
    return backends.train(config, data_file, model, out)


def logged(artifacts: backends.TrainArtifacts) -> list[dict]:
    return [json.loads(line) for line in artifacts.log_file.read_text(encoding="utf-8").splitlines()]


def assert_trained(artifacts: backends.TrainArtifacts, *keys: str) -> list[dict]:
    """Outputs exist, every step logged a finite loss (and ``keys``), the summary adds up."""
    logs = logged(artifacts)
    steps = [e for e in logs if "loss" in e]
    assert len(steps) == 2, logs
    assert all(isinstance(e["loss"], float) and math.isfinite(e["loss"]) for e in steps)
    for key in keys:
        assert all(key in e for e in steps), (key, steps[0].keys())
    s = json.loads(artifacts.summary_file.read_text(encoding="utf-8"))
    assert s["steps"] == 2 and s["stopped_early"] is False and s["tokens_seen"] > 0 and s["wall_time_s"] > 0
    assert s["tokens_per_s"] > 0 and s["peak_memory_mb"] > 0 and "loss" in s["final_metrics"]
    assert isinstance(s["health"], list)
    assert artifacts.curve_plot.read_bytes()[:4] == b"\x89PNG"
    assert (artifacts.model_dir / "adapter_config.json").is_file()
    assert (artifacts.model_dir / "tokenizer_config.json").is_file()
    assert (artifacts.output_dir / "stage_config.yaml").is_file()
    return steps


def logits(model, tokenizer, text: str = "感冒需要吃抗生素吗？") -> torch.Tensor:
    ids = tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        return model(**ids).logits.float()


# -- sft ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sft_run(data, tmp_path_factory):
    """SFT through the CLI (progress bar, summary table), shared by the reload and merge tests."""
    out = tmp_path_factory.mktemp("sft") / "run"
    _load_commands()
    result = CliRunner().invoke(app, [
        "train", "sft", "--data", str(data["sft"]), "--model", "smollm2", "-o", str(out),
        "--set", "max_steps=2", "--set", "per_device_train_batch_size=2", "--set", "max_length=192",
        "--set", "gradient_checkpointing=false", "--set", "adapter.rank=4", "--set", "adapter.alpha=8",
        "--set", "learning_rate=1e-3", "--set", "seed=0",
    ])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    artifacts = backends.TrainArtifacts(out, out / "adapter", out / "log_history.jsonl", out / "curves.png",
                                        out / "summary.json", summary)
    return artifacts, result.output


def test_sft_trains_through_the_cli_and_prints_the_summary(sft_run):
    artifacts, output = sft_run
    assert_trained(artifacts, "grad_norm", "learning_rate")
    assert artifacts.summary["chat_template"] == "patched"
    assert "tokens_seen" in output and "health" in output and f"model: {artifacts.model_dir}\n" in output
    saved = (artifacts.model_dir / "chat_template.jinja").read_text(encoding="utf-8")
    assert ct.has_generation_markers(saved)  # the template it trained with travels with the adapter


def test_the_adapter_reloads_and_changes_the_outputs(sft_run, smollm_path, smollm_tokenizer):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    artifacts, _ = sft_run
    base = logits(AutoModelForCausalLM.from_pretrained(smollm_path), smollm_tokenizer)
    tuned_model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(smollm_path), str(artifacts.model_dir))
    tuned = logits(tuned_model, smollm_tokenizer)
    assert (tuned - base).abs().max() > 1e-3
    via_loader = logits(backends.loading.load_model(artifacts.output_dir), smollm_tokenizer)
    assert torch.allclose(via_loader, tuned, atol=1e-4)


def test_merge_gives_a_plain_model_with_the_adapter_logits(sft_run, smollm_path, smollm_tokenizer, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    artifacts, _ = sft_run
    result = CliRunner().invoke(app, ["train", "merge", str(artifacts.output_dir), "-o", str(tmp_path / "merged")])
    assert result.exit_code == 0, result.output
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "merged")
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "merged")
    assert ct.has_generation_markers(tokenizer.chat_template)
    adapter = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(smollm_path), str(artifacts.model_dir))
    assert torch.allclose(logits(merged, smollm_tokenizer), logits(adapter, smollm_tokenizer), atol=1e-4)


#: what an assistant turn trains on: everything after the role header up to and including the
#: end token (TRL's Qwen2.5 training template also takes the newlines around it)
ASSISTANT_TURN = {
    "smollm2": r"<\|im_start\|>assistant\n(.*?<\|im_end\|>)",
    "qwen2.5": r"<\|im_start\|>assistant(\n.*?<\|im_end\|>\n)",
}


@pytest.mark.parametrize("template", ["smollm2", "qwen2.5"])
def test_the_sft_mask_covers_exactly_the_assistant_tokens(template, data, smollm_tokenizer):
    """Both SmolLM2's patched template and TRL's Qwen2.5 training template (which renders
    tool calls and tool results): the masked tokens decode to exactly the assistant turns."""
    from backends.config import SFTStage
    from backends.builtin.sft import training_template
    from backends.data import read_records

    tokenizer = smollm_tokenizer
    original = tokenizer.chat_template
    try:
        if template == "qwen2.5":
            import trl

            tokenizer.chat_template = (Path(trl.__file__).parent / "chat_templates" / "qwen2_5.jinja").read_text()
        text, source = training_template(tokenizer, SFTStage(), "m")
        assert source == ("patched" if template == "smollm2" else "trl")
        records = read_records([data["sft"]])
        ids, masks = encode(tokenizer, text, records, with_mask=True)
        convs = backends.data.conversations(records)
        tools = backends.data.tools_per_record(records)
        for seq, mask, conv, tool in zip(ids, masks, convs, tools):
            rendered = ct.render(tokenizer, [conv], template=text, tools=tool).texts[0]
            expected = re.findall(ASSISTANT_TURN[template], rendered, flags=re.S)
            got = tokenizer.decode([t for t, m in zip(seq, mask) if m])
            assert got == "".join(expected)
            if tool is not None:
                assert len(expected) == 2  # the tool-call turn and the answer
                if template == "qwen2.5":
                    assert '{"name": "check_blood_pressure", "arguments": {"systolic": 15' in expected[0]
    finally:
        tokenizer.chat_template = original


# -- preference stages -------------------------------------------------------------------------


def test_dpo_trains_on_pairs_with_the_adapter_disabled_as_reference(data, tmp_path):
    artifacts = train("dpo", data["pairs"], tmp_path / "dpo", learning_rate=1e-4)
    steps = assert_trained(artifacts, "rewards/chosen", "rewards/rejected", "rewards/margins")
    assert steps[0]["rewards/margins"] == pytest.approx(0.0, abs=1e-6)  # policy == reference at step 1


def test_dpo_continues_from_the_sft_adapter(data, sft_run, tmp_path, smollm_tokenizer):
    """SFT -> DPO: the DPO adapter records the SFT output as its base; loading (and
    merging) follows the chain."""
    sft, _ = sft_run
    artifacts = train("dpo", data["pairs"], tmp_path / "dpo", model=str(sft.output_dir), learning_rate=1e-4, max_steps=1,
                      per_device_train_batch_size=2)
    config = json.loads((artifacts.model_dir / "adapter_config.json").read_text(encoding="utf-8"))
    assert Path(config["base_model_name_or_path"]) == sft.model_dir.resolve()
    chained = logits(backends.loading.load_model(artifacts.output_dir), smollm_tokenizer)
    sft_only = logits(backends.loading.load_model(sft.output_dir), smollm_tokenizer)
    assert chained.shape == sft_only.shape and torch.isfinite(chained).all()


def test_kto_trains_on_labels_and_unpaired_pairs(data, tmp_path):
    artifacts = train("kto", data["kto"], tmp_path / "kto", learning_rate=1e-4)
    assert_trained(artifacts)
    assert artifacts.summary["data"]["unpaired"] == 2


def test_orpo_trains_without_a_reference(data, tmp_path):
    artifacts = train("orpo", data["pairs"], tmp_path / "orpo", learning_rate=1e-4)
    assert_trained(artifacts, "nll_loss", "log_odds_ratio")


def test_reward_model_reports_pairwise_accuracy_and_loads_as_a_scorer(data, tmp_path):
    artifacts = train("rm", data["pairs"], tmp_path / "rm", learning_rate=1e-3, eval_fraction=0.25)
    assert_trained(artifacts)
    assert artifacts.summary["held_out_pairs"] == 2
    assert 0.0 <= artifacts.summary["pairwise_accuracy"] <= 1.0
    from backends.rewards import RewardModelReward

    scorer = RewardModelReward(str(artifacts.output_dir))
    scores = scorer([[{"role": "user", "content": "感冒需要吃抗生素吗？"}]] * 2, ["不需要，多休息。", "需要。"])
    assert len(scores) == 2 and all(math.isfinite(s) for s in scores)


# -- sampling stages ---------------------------------------------------------------------------


def test_grpo_logs_rewards_and_kl(data, tmp_path):
    artifacts = train("grpo", data["prompts"], tmp_path / "grpo", num_generations=2, beta=0.04, **SAMPLING)
    steps = assert_trained(artifacts, "reward", "reward_std", "kl", "rewards/verifiers/mean")
    assert all(0.0 <= e["reward"] <= 1.0 for e in steps)
    assert artifacts.summary["rewards"] == {"verifiers": 1.0}


def test_rloo_trains_with_verifier_rewards(data, tmp_path):
    artifacts = train("rloo", data["prompts"], tmp_path / "rloo", num_generations=2, **SAMPLING)
    assert_trained(artifacts, "reward", "kl")


def test_ppo_on_a_toy_verifiable_task_logs_rewards_kl_and_value_loss(data, tmp_path):
    artifacts = train("ppo", data["prompts"], tmp_path / "ppo", mini_batch_size=1, ppo_epochs=2, **SAMPLING)
    steps = assert_trained(artifacts, "reward", "kl", "policy_loss", "value_loss", "rewards/verifiers", "entropy")
    assert steps[0]["kl"] == pytest.approx(0.0, abs=1e-4)  # the adapter starts at zero: policy == reference
    assert any(e["approx_kl"] > 0 for e in steps)
    assert (artifacts.model_dir / "value_head.pt").is_file()


# -- health ------------------------------------------------------------------------------------


def test_a_nan_loss_stops_training_and_names_the_step_and_batch(td, data, smollm_path, tmp_path):
    """A copy of the model whose input embedding of one token is NaN (output head untied,
    so only sequences containing that token go NaN): training stops at the batch that
    holds it, before the optimizer applies it, and the adapter saved is finite."""
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(smollm_path)
    tokenizer = AutoTokenizer.from_pretrained(smollm_path)
    poisoned = tokenizer.encode(" banana")
    assert len(poisoned) == 1
    model.config.tie_word_embeddings = False
    model.lm_head.weight = torch.nn.Parameter(model.model.embed_tokens.weight.detach().clone())
    with torch.no_grad():
        model.model.embed_tokens.weight[poisoned[0]] = float("nan")
    model.save_pretrained(tmp_path / "poisoned")
    tokenizer.save_pretrained(tmp_path / "poisoned")

    banana = pl.element().struct.with_fields(pl.lit("Is a banana good for blood pressure?").alias("content"))
    records = td.sft().head(4).with_columns(
        pl.when(pl.col("id") == "qa-2").then(pl.col("messages").list.eval(banana)).otherwise(pl.col("messages"))
        .alias("messages"))
    path = td.write(records, tmp_path / "poison.parquet")
    artifacts = train("sft", path, tmp_path / "run", model=str(tmp_path / "poisoned"), max_steps=2)
    flag = next(f for f in artifacts.health if f["flag"] == "nonfinite_loss")
    assert artifacts.summary["stopped_early"] is True
    assert "id 'qa-2'" in flag["batch"] and flag["step"] in (1, 2) and f"at step {flag['step']}" in flag["message"]
    weights = load_file(artifacts.model_dir / "adapter_model.safetensors")
    assert all(torch.isfinite(w).all() for w in weights.values())


def test_a_rerun_resumes_from_the_last_checkpoint(data, tmp_path):
    """save_steps writes checkpoints; a rerun into the same folder (here with more steps)
    continues from the newest one instead of starting over."""
    out = tmp_path / "run"
    first = train("sft", data["sft"], out, max_steps=1, save_steps=1)
    assert (out / "checkpoints" / "checkpoint-1").is_dir() and first.summary["steps"] == 1
    second = train("sft", data["sft"], out, max_steps=2, save_steps=1)
    steps = [e["step"] for e in logged(second) if "loss" in e]
    assert steps == [1, 2]  # step 1 comes from the checkpoint's state, step 2 was trained now
    assert second.summary["steps"] == 2 and (out / "checkpoints" / "checkpoint-2").is_dir()


def test_a_judge_reward_scores_completions_in_zero_one(smollm_path):
    """The LLM-judge reward on a real (tiny) judge: every score is None (no verdict
    parsed) or in [0, 1]."""
    from backends.config import JudgeReward
    from backends.rewards import JudgeRewardFn

    judge = JudgeRewardFn(JudgeReward(engine="transformers", model=smollm_path, max_new_tokens=8))
    scores = judge([[{"role": "user", "content": "What is 3 + 4?"}]] * 2, ["7", "12"])
    assert len(scores) == 2 and all(s is None or 0.0 <= s <= 1.0 for s in scores)
