"""The lm-eval bridge on the shipped tiny bilingual tasks with the embedded model (real lm-eval)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.store import load_run

pytestmark = pytest.mark.slow

TASKS = Path(__file__).resolve().parents[2] / "recipes" / "lm_eval_tasks"
runner = CliRunner()


@pytest.fixture(scope="module")
def harness_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("harness") / "tiny"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(out.parent)  # the task YAMLs' relative data_files must not depend on the cwd
        result = runner.invoke(app, ["harness", "--tasks", "posttrain_tiny", "--include-path", str(TASKS),
                                     "--limit", "3", "-o", str(out)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return out


def test_harness_run_is_an_evalkit_run(harness_run: Path) -> None:
    run = load_run(harness_run)
    assert run.manifest["kind"] == "lm-eval" and run.manifest["data"]["limit"] == 3
    assert set(run.metrics) >= {"posttrain_tiny_mc/acc", "posttrain_tiny_mc/acc_norm",
                                "posttrain_tiny_gen/exact_match@last_number"}
    preds = run.predictions
    assert preds.height == 6 and set(preds["task"].to_list()) == {"posttrain_tiny_mc", "posttrain_tiny_gen"}
    mc = preds.filter(preds["task"] == "posttrain_tiny_mc")
    # the logged per-sample values reproduce lm-eval's aggregate
    acc = mc["metric:posttrain_tiny_mc/acc"].mean()
    assert run.metrics["posttrain_tiny_mc/acc"]["score"] == pytest.approx(acc)
    assert mc["metric:posttrain_tiny_mc/acc"].to_list() == \
        [float(p == r) for p, r in zip(mc["prediction"], mc["reference"])]
    choices = [json.loads(x)["choices"] for x in (TASKS / "data" / "tiny_mc.jsonl").read_text(encoding="utf-8").splitlines()]
    assert mc["reference"].to_list() == [choices[i][json.loads(x)["answer"]] for i, x in
                                         enumerate((TASKS / "data" / "tiny_mc.jsonl").read_text(encoding="utf-8").splitlines()[:3])]
    gen = preds.filter(preds["task"] == "posttrain_tiny_gen")
    assert gen["reference"].to_list() == ["5", "6", "9"]
    assert all(run.metrics[m]["signature"].startswith("lm-eval:") for m in run.metrics)


def test_harness_runs_compare_like_any_run(harness_run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "tiny_copy"
    shutil.copytree(harness_run, copy)
    result = runner.invoke(app, ["compare", str(harness_run), str(copy), "-o", str(tmp_path / "report"),
                                 "--n-boot", "50"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    table = json.loads((tmp_path / "report" / "comparison.json").read_text(encoding="utf-8"))["table"]
    row = next(r for r in table if r["metric"] == "posttrain_tiny_mc/acc" and r["run"] == "tiny_copy")
    assert row["delta"] == 0.0 and row["method"] == "mean" and row["significant"] is False


def test_chat_template_and_fewshot_as_multiturn(tmp_path: Path) -> None:
    """lm-eval's chat options pass through: with the template, the logged prompt is the
    model's ChatML; as multiturn the few-shot example is its own user/assistant turn."""
    def run(name: str, *flags: str) -> str:
        out = tmp_path / name
        result = runner.invoke(app, ["harness", "--tasks", "posttrain_tiny_gen", "--include-path", str(TASKS),
                                     "--limit", "1", "--num-fewshot", "1", *flags, "-o", str(out)])
        assert result.exit_code == 0, result.output + repr(result.exception)
        return load_run(out).predictions["prompt"][0]

    single = run("single", "--apply-chat-template", "--no-fewshot-as-multiturn")
    multi = run("multi", "--apply-chat-template")
    assert single.count("<|im_start|>user") == 1 and multi.count("<|im_start|>user") == 2
    assert multi.count("<|im_start|>assistant") == 2  # the shot's answer, then the generation prompt
    run_multi = load_run(tmp_path / "multi")
    assert run_multi.manifest["lm_eval"]["fewshot_as_multiturn"] is True
    assert "chat:default|multiturn:yes" in next(iter(run_multi.metrics.values()))["signature"]
    refused = runner.invoke(app, ["harness", "--tasks", "posttrain_tiny_gen", "--include-path", str(TASKS),
                                  "--fewshot-as-multiturn", "-o", str(tmp_path / "x")])
    assert refused.exit_code == 2 and "needs a chat template" in refused.output
