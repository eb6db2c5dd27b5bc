"""Stage configs, data refusals, health flags and outputs of the back ends (no model loads)."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest
import yaml

import backends
from backends import config as C
from backends import data as D
from backends.health import check_logs
from backends.outputs import claim_output, plot_curves
from dataforge.errors import ConfigError, UnknownNameError, UnsafeOutputError, UserError
from dataforge.formats.api import write


# -- configs -----------------------------------------------------------------------------------


def test_every_stage_has_a_documented_config():
    assert set(C.STAGE_CONFIGS) == set(C.STAGES) == set(backends.STAGES)
    for stage, cls in C.STAGE_CONFIGS.items():
        assert cls.stage == stage and cls.__doc__
        text = C.config_yaml(stage)
        loaded = yaml.safe_load(text)
        assert loaded.pop("stage") == stage
        assert C.stage_config(stage, loaded) == C.stage_config(stage, loaded)  # the printed defaults validate


def test_unknown_keys_are_errors_with_the_nearest_name():
    with pytest.raises(ConfigError, match=r"stage 'sft': unknown parameter 'lerning_rate' \(did you mean 'learning_rate'\?\)"):
        C.stage_config("sft", {"lerning_rate": 1e-4})
    with pytest.raises(ConfigError, match="adapter: unknown parameter 'rnak'"):
        C.stage_config("dpo", sets=["adapter.rnak=8"])
    with pytest.raises(UnknownNameError, match="unknown stage 'spo'"):
        C.stage_config("spo")


def test_file_then_sets_nested_and_typed(tmp_path):
    path = tmp_path / "dpo.yaml"
    path.write_text("stage: dpo\nbeta: 0.2\nadapter: {rank: 4, target_modules: [q_proj, v_proj]}\n", encoding="utf-8")
    cfg = C.stage_config("dpo", file=path, sets=["adapter.rank=8", "loss_type=[sigmoid, sft]", "loss_weights=[1, 0.5]"])
    assert cfg.beta == 0.2 and cfg.adapter.rank == 8 and cfg.adapter.target_modules == ["q_proj", "v_proj"]
    assert cfg.loss_type == ["sigmoid", "sft"] and cfg.loss_weights == [1.0, 0.5]
    with pytest.raises(ConfigError, match="configures stage 'dpo', not 'kto'"):
        C.stage_config("kto", file=path)
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        C.parse_sets(["beta"])


def test_rewards_need_a_source_and_known_verifiers():
    with pytest.raises(ConfigError, match="rewards: required parameter missing"):
        C.stage_config("grpo")
    with pytest.raises(ConfigError, match="at least one reward source"):
        C.stage_config("grpo", {"rewards": {}})
    with pytest.raises(UnknownNameError, match="did you mean 'math_answer'"):
        C.stage_config("grpo", {"rewards": {"verifiers": {"math_anwser": 1.0}}})
    with pytest.raises(ConfigError, match="verifier 'length': unknown parameter 'max_char'"):
        C.stage_config("rloo", {"rewards": {"verifiers": {"length": 1.0}, "verifier_params": {"length": {"max_char": 9}}}})
    cfg = C.stage_config("ppo", {"rewards": {"verifiers": {"math_answer": 1.0, "length": 0.2}}})
    assert cfg.rewards.needs_reference() == ["math_answer"]


def test_ppo_refuses_what_it_does_not_use():
    with pytest.raises(ConfigError, match="trl_args does not apply"):
        C.stage_config("ppo", {"rewards": {"verifiers": {"json": 1}}, "trl_args": {"beta": 1}})


def test_trl_args_are_checked_against_the_trl_config(td, tmp_path):
    from trl import DPOConfig

    from backends.builtin.session import Session

    data = td.write(td.pairs(), tmp_path / "pairs.parquet")

    def args(trl_args):
        cfg = C.stage_config("dpo", {"trl_args": trl_args, "bf16": False})
        return Session(cfg, data, "smollm2", tmp_path / "out").trl_args(DPOConfig)

    built = args({"precompute_ref_log_probs": True})
    assert built.precompute_ref_log_probs is True and built.beta == 0.1 and built.logging_nan_inf_filter is False
    with pytest.raises(ConfigError, match="DPOConfig has no argument 'precompute_ref_logprobs'.*did you mean"):
        args({"precompute_ref_logprobs": True})
    with pytest.raises(ConfigError, match="'beta' is a stage parameter"):
        args({"beta": 0.3})
    with pytest.raises(ConfigError, match="'output_dir' is set by the back end"):
        args({"output_dir": "x"})


def test_qlora_on_cpu_is_refused_in_one_line(td, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    cfg = C.stage_config("sft", {"adapter": {"kind": "qlora"}})
    data = td.write(td.sft(), tmp_path / "sft.parquet")
    with pytest.raises(UserError, match=r"^adapter.kind=qlora needs a CUDA GPU .*use adapter.kind=lora$"):
        backends.train(cfg, data, "smollm2", tmp_path / "out")
    assert not (tmp_path / "out").exists()


# -- data refusals ---------------------------------------------------------------------------------


def _read(df: pl.DataFrame, tmp_path: Path, name: str = "data.parquet") -> pl.DataFrame:
    write(df, tmp_path / name, "canonical")
    return D.read_records([tmp_path / name])


def test_preference_stage_given_sft_data_names_file_row_and_problem(td, tmp_path):
    records = _read(td.sft(), tmp_path, "sft.parquet")
    with pytest.raises(D.DataError) as err:
        D.check_stage("dpo", records)
    message = str(err.value)
    assert message.startswith(f"{tmp_path / 'sft.parquet'}: row 1 (id 'qa-0'): has no chosen/rejected pair")
    assert "(8 of 8 records)" in message and "use sft" in message and "\n" not in message


def test_sft_refuses_pairs_and_records_without_assistant_turn(td, tmp_path):
    with pytest.raises(D.DataError, match="row 1 .*is a preference record"):
        D.check_stage("sft", _read(td.pairs(), tmp_path))
    # the reader already refuses a conversation that ends on a user turn, with its row
    prompts = td.prompts().with_columns(pl.col("messages").list.head(1))
    with pytest.raises(UserError, match=r"prompts.parquet:1: .*ends with a user turn"):
        _read(prompts, tmp_path, "prompts.parquet")
    # a record built in Python meets the stage check
    records = _read(td.sft(), tmp_path, "sft.parquet").with_columns(
        pl.when(pl.col("id") == "qa-2").then(pl.col("messages").list.head(1)).otherwise(pl.col("messages"))
        .alias("messages"))
    with pytest.raises(D.DataError, match=r"row 3 \(id 'qa-2'\): has no assistant turn: nothing to learn \(1 of 8"):
        D.check_stage("sft", records)


def test_kto_takes_labels_and_unpairs_pairs(td, tmp_path):
    records = D.check_stage("kto", _read(td.kto(), tmp_path))
    assert records.height == 6 + 2 * 2
    unpaired = records.filter(pl.col("id").str.contains("#"))
    assert sorted(unpaired["label"].to_list()) == [False, False, True, True]
    assert unpaired["chosen"].null_count() == 4
    with pytest.raises(D.DataError, match="neither label nor chosen/rejected"):
        D.check_stage("kto", _read(td.sft(), tmp_path, "sft.parquet"))


def test_online_stages_split_prompt_and_reference(td, tmp_path):
    records = D.split_prompts(D.check_stage("grpo", _read(td.prompts(), tmp_path)))
    assert records["reference"].to_list()[0] == "7"
    assert records["messages"].list.len().to_list() == [1] * 8
    no_ref = records.with_columns(pl.lit(None, pl.String).alias("reference"))
    with pytest.raises(D.DataError, match="no reference answer .*'math_answer'"):
        D.check_references(no_ref, ["math_answer"])


def test_records_over_max_length_are_counted_and_the_policy_named(td, tmp_path, smollm_tokenizer):
    records = _read(td.sft(), tmp_path)
    convs = D.conversations(records)
    lengths = D.token_lengths(smollm_tokenizer, None, records, convs)
    assert (lengths > 0).all()
    limit = int(sorted(lengths)[5])  # two records are longer
    with pytest.raises(D.DataError) as err:
        D.apply_overflow(records, lengths, limit, "error", D.DataReport(files=[], records=8))
    assert f"tokens > max_length {limit} (2 of 8 records)" in str(err.value)
    assert "overflow=truncate" in str(err.value) and "overflow=drop" in str(err.value)
    report = D.DataReport(files=[], records=8)
    kept = D.apply_overflow(records, lengths, limit, "drop", report)
    assert kept.height == 6 and report.over_max_length == 2 and "skipped" in report.notes[0]


def test_tool_arguments_that_are_not_json_are_refused(td):
    from dataforge.schemas.record import from_dicts
    bad = td.tool_record(1)
    bad["messages"][1]["tool_calls"][0]["arguments"] = "{oops"
    records = from_dicts([td.tool_record(0), bad]).with_columns(
        pl.lit("built.parquet").alias("_file"), pl.int_range(1, 3).alias("_row"))
    with pytest.raises(D.DataError, match=r"row 2 \(id 'tool-1'\): messages\[1\].tool_calls\[0\].arguments is not valid JSON"):
        D.conversations(records)


# -- health and outputs ------------------------------------------------------------------------


def _logs(losses, grads=None):
    grads = grads or [1.0] * len(losses)
    return [{"step": i + 1, "loss": loss, "grad_norm": g} for i, (loss, g) in enumerate(zip(losses, grads))]


def test_health_flags():
    cfg = C.HealthConfig()
    assert check_logs(_logs([2.0, 1.8, 1.6, 1.5]), cfg) == []
    flags = {f["flag"]: f for f in check_logs(_logs([2.0, 1.9, 1.8, 9.0, 1.7]), cfg)}
    assert flags["loss_spike"]["step"] == 4
    flags = {f["flag"]: f for f in check_logs(_logs([2.0, 1.9, 1.8, 1.7], [1.0, 1.2, 1.1, 50.0]), cfg)}
    assert flags["exploding_grad_norm"]["step"] == 4
    flags = {f["flag"]: f for f in check_logs(_logs([0.6931, 0.6931, 0.6931]), cfg)}
    assert "learning rate" in flags["flat_loss"]["message"]
    flags = {f["flag"]: f for f in check_logs(_logs([2.0, math.nan]), cfg)}
    assert flags["nonfinite_loss"]["step"] == 2
    rewards = [{"step": i, "loss": 0.0, "reward": 0.0} for i in range(1, 5)]
    flags = {f["flag"] for f in check_logs(rewards, cfg, flat_key="reward")}
    assert flags == {"flat_reward"}


def test_curves_have_a_panel_per_metric_family(tmp_path):
    logs = [{"step": i, "loss": 1.0 / i, "reward": 0.1 * i, "kl": 0.01 * i, "grad_norm": 1.0} for i in range(1, 5)]
    path = plot_curves(tmp_path, logs, "grpo")
    assert path is not None and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot_curves(tmp_path, [{"step": 1, "epoch": 1.0}], "x") is None


def test_output_folder_must_be_ours_and_not_an_input(td, tmp_path):
    data = td.write(td.sft(), tmp_path / "sft.parquet")
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(UnsafeOutputError, match="is not empty and was not created by posttrain"):
        claim_output(foreign, [data])
    with pytest.raises(UnsafeOutputError, match="contains the input"):
        claim_output(tmp_path, [data])
    claim_output(tmp_path / "run", [data])
    claim_output(tmp_path / "run", [data])  # a rerun into our own folder is fine
    assert (foreign / "keep.txt").read_text(encoding="utf-8") == "mine"


def test_accelerate_configs_ship_with_the_package():
    for name in backends.ACCELERATE_CONFIGS:
        data = yaml.safe_load(backends.accelerate_config(name).read_text(encoding="utf-8"))
        assert data["distributed_type"] in ("DEEPSPEED", "FSDP")
    assert yaml.safe_load(backends.accelerate_config("zero3").read_text())["deepspeed_config"]["zero_stage"] == 3
    with pytest.raises(UnknownNameError, match="did you mean 'zero3'"):
        backends.accelerate_config("zero4")


# -- the CLI refuses bad input before any model loads -------------------------------------------


def _cli(*args: str):
    from typer.testing import CliRunner

    from dataforge.cli.app import app
    from dataforge.cli.main import _load_commands

    _load_commands()
    return CliRunner().invoke(app, list(args))


def test_cli_refuses_a_preference_stage_given_sft_data(td, tmp_path):
    data = td.write(td.sft(), tmp_path / "sft.parquet")
    result = _cli("train", "dpo", "--data", str(data), "-o", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "sft.parquet: row 1 (id 'qa-0'): has no chosen/rejected pair" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()


def test_cli_counts_records_over_max_length_and_says_what_to_do(td, tmp_path):
    data = td.write(td.sft(), tmp_path / "sft.parquet")
    result = _cli("train", "sft", "--data", str(data), "-o", str(tmp_path / "out"), "--set", "max_length=24")
    assert result.exit_code == 2
    assert "tokens > max_length 24 (8 of 8 records)" in result.output and "overflow=drop" in result.output
    assert not (tmp_path / "out").exists()


def test_cli_refuses_a_template_that_cannot_mask_and_offers_the_patch(td, tmp_path):
    data = td.write(td.sft(), tmp_path / "sft.parquet")
    result = _cli("train", "sft", "--data", str(data), "-o", str(tmp_path / "out"), "--set", "patch_template=false")
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "has no {% generation %} markers" in text and "dataforge template patch smollm2-135m-instruct" in text


def test_cli_config_prints_editable_yaml():
    result = _cli("train", "config", "dpo")
    assert result.exit_code == 0
    assert yaml.safe_load(result.output)["beta"] == 0.1


def test_merge_stays_the_function_after_its_module_is_imported():
    """``backends.merge`` is a function; importing the module behind it must not replace it
    (a package attribute named like a submodule is overwritten by the import)."""
    import importlib

    import backends

    importlib.import_module("backends.merging")
    assert callable(backends.merge) and backends.merge.__module__ == "backends"
