"""evalkit on bad input (no model needed): clear errors naming the file, and metric direction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.compare import higher_is_better
from evalkit.metrics import MetricInputs, get_metric
from evalkit.run import evaluate

EVAL_SET = Path(__file__).resolve().parents[2] / "recipes" / "data" / "eval_qa_zh_en.jsonl"


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_empty_or_unreadable_predictions_file_names_the_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match="empty.jsonl"):
        evaluate(predictions=empty, metrics="exact_match")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"prompt": "a"', encoding="utf-8")
    with pytest.raises(ValueError, match="broken.jsonl"):
        evaluate(predictions=broken, metrics="exact_match")
    header_only = tmp_path / "header.csv"
    header_only.write_text("prompt,reference,prediction\n", encoding="utf-8")
    with pytest.raises(ValueError, match="has no rows"):
        evaluate(predictions=header_only, metrics="exact_match")


def test_predictions_with_a_repeated_id_are_refused(tmp_path: Path) -> None:
    ids = [json.loads(line)["id"] for line in EVAL_SET.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [{"id": i, "prediction": "x"} for i in ids] + [{"id": ids[0], "prediction": "y"}]
    preds = _jsonl(tmp_path / "preds.jsonl", rows)
    with pytest.raises(ValueError, match=f"more than once.*{ids[0]}"):
        evaluate(data=EVAL_SET, predictions=preds, metrics="exact_match")


def test_list_typed_predictions_are_refused_with_file_and_row(tmp_path: Path) -> None:
    from dataforge.errors import UserError

    preds = _jsonl(tmp_path / "preds.jsonl", [{"prompt": "1+1?", "reference": "2", "prediction": None},
                                             {"prompt": "你好", "reference": "你好", "prediction": ["你好"]}])
    with pytest.raises(UserError, match=r"preds.jsonl: row 2: prediction must be text"):
        evaluate(predictions=preds, metrics="exact_match")


def test_prediction_ids_not_in_the_eval_set_are_counted_or_refused(tmp_path: Path) -> None:
    from dataforge.errors import UserError
    from evalkit.run import PredictionsWarning

    ids = [json.loads(line)["id"] for line in EVAL_SET.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [{"id": i, "prediction": "x"} for i in ids] + [{"id": "不存在", "prediction": "y"}, {"id": "nope", "prediction": "z"}]
    preds = _jsonl(tmp_path / "preds.jsonl", rows)
    with pytest.warns(PredictionsWarning, match="2 prediction id"):
        run = evaluate(data=EVAL_SET, predictions=preds, metrics="exact_match")
    assert run.predictions.height == len(ids)
    with pytest.raises(UserError, match="2 prediction id.*not in the eval set"):
        evaluate(data=EVAL_SET, predictions=preds, metrics="exact_match", strict=True)


def test_metrics_declare_their_direction_and_compare_reads_it() -> None:
    texts = ["a cat sat", "a dog ran", "the cat ran"]
    inputs = MetricInputs(predictions=texts, references=texts)
    assert get_metric("self_bleu")(inputs).to_dict()["higher_is_better"] is False
    assert get_metric("exact_match")(inputs).to_dict()["higher_is_better"] is True
    # the declaration wins over the name table; runs without one fall back to the table
    assert higher_is_better("ppl", {"higher_is_better": True}) is True
    assert higher_is_better("self_bleu", {}) is False
    assert higher_is_better("bleu", {}) is True


def test_prompt_only_records_are_scored_and_unreadable_rows_reported(tmp_path: Path) -> None:
    """The issue's reproducer: a prompt-only record is scored by reference-free metrics,
    and a row the reader cannot take is counted and kept: rows in = scored + refused."""
    from typer.testing import CliRunner

    from evalkit.cli import app
    from evalkit.store import load_run

    data = _jsonl(tmp_path / "d.jsonl", [
        {"id": "p1", "messages": [{"role": "user", "content": "Hi"}]},
        {"id": "p2", "messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]},
        {"id": "p3", "messages": [{"role": "assistant", "content": "no question"}]},
        {"id": "p4", "messages": [{"role": "user", "content": "问"}, {"role": "assistant", "content": "答"}],
         "meta": {"references": ["回答", "答案"]}},
    ])
    preds = _jsonl(tmp_path / "p.jsonl", [{"id": "p1", "prediction": '{"a":1}'}, {"id": "p2", "prediction": "A"},
                                          {"id": "p4", "prediction": "答案"}])
    result = CliRunner().invoke(app, ["run", "--predictions", str(preds), "--data", str(data), "--metrics",
                                      "json_valid,exact_match,bleu", "-o", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert "4 rows in = 3 scored + 1 refused (role_order: 1)" in " ".join(result.output.split())
    run = load_run(tmp_path / "r")
    assert run.predictions.height == 3
    assert run.metrics["json_valid"]["score"] == pytest.approx(1 / 3)
    assert {k: run.manifest["data"][k] for k in ("rows_in", "scored", "refused")} == {"rows_in": 4, "scored": 3, "refused": 1}
    assert run.rejected is not None and run.rejected["source_row"].to_list() == [3]
    by_id = {r["id"]: r for r in run.predictions.to_dicts()}
    assert by_id["p1"]["reference"] is None and by_id["p1"]["metric:exact_match"] is None
    assert by_id["p4"]["references"] == ["答", "回答", "答案"] and by_id["p4"]["metric:exact_match"] == 1.0
    assert "nrefs:var" in run.metrics["bleu"]["signature"]


def test_a_prompt_only_eval_set_scores_every_record(tmp_path: Path) -> None:
    data = _jsonl(tmp_path / "prompts.jsonl", [
        {"id": "a", "messages": [{"role": "user", "content": "Return JSON"}]},
        {"id": "b", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "JSON?"}]},
    ])
    preds = _jsonl(tmp_path / "p.jsonl", [{"id": "a", "prediction": '{"a":1}'}, {"id": "b", "prediction": "A"}])
    run = evaluate(data=data, predictions=preds, metrics="json_valid,distinct,bleu")
    assert run.predictions.height == 2 and run.metrics["json_valid"]["score"] == 0.5
    assert run.metrics["distinct"]["score"] is not None
    assert run.metrics["bleu"]["score"] is None and "no row has a reference" in run.metrics["bleu"]["error"]
    assert run.manifest["data"]["refused"] == 0


def test_cli_refusals_are_one_line_and_bugs_keep_tracebacks(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from evalkit.cli import app

    runner = CliRunner()
    missing = runner.invoke(app, ["compare", str(tmp_path / "nope"), str(tmp_path / "nope2")])
    assert missing.exit_code == 2 and "not a complete evalkit run" in missing.output
    preds = _jsonl(tmp_path / "p.jsonl", [{"id": "x", "answer": "1"}])
    bad = runner.invoke(app, ["run", "--predictions", str(preds), "-o", str(tmp_path / "r")])
    assert bad.exit_code == 2 and "no `prediction` column" in bad.output and "Traceback" not in bad.output


def test_a_metric_parameter_typo_is_refused_before_anything_runs(tmp_path: Path) -> None:
    from dataforge.errors import ConfigError

    preds = _jsonl(tmp_path / "p.jsonl", [{"prompt": "q", "reference": "a", "prediction": "a"}])
    with pytest.raises(ConfigError, match="did you mean 'tokenize'"):
        evaluate(predictions=preds, metrics="bleu", metric_params={"bleu": {"tokenise": "zh"}})
