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
