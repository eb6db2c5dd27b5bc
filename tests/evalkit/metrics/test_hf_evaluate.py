"""Every metric through ``evaluate.load(<local module path>).compute`` equals the function."""

from __future__ import annotations

import json
from pathlib import Path

import evaluate
import pytest

from evalkit.metrics import MetricInputs, get_metric, metric_registry
from evalkit.metrics.hf_evaluate import evaluate_module_path

HYPS = ["The cat sat on the mat.", "猫坐在垫子上。", "The answer is (B)", '{"a": 1}']
REFS = ["A cat sat on the mat.", "猫在垫子上。", "B", '{"a": 1}']
TOOLS = json.dumps([{"name": "f", "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}}}])

CASES = [
    ("bleu", {"predictions": HYPS, "references": REFS}, {"lang": "en"}),
    ("bertscore", {"predictions": HYPS, "references": REFS}, {"lang": "en"}),
    ("ppl", {"references": REFS[:2], "prompts": ["Where is the cat?", "猫在哪里？"]}, {}),
    ("distinct", {"predictions": HYPS}, {"n": 1}),
    ("self_bleu", {"predictions": HYPS}, {"max_n": 2}),
    ("json_valid", {"predictions": HYPS}, {"allow_fence": False}),
    ("tool_call_valid", {"predictions": ['{"name": "f", "arguments": {"x": 1}}', "no"], "tools": [TOOLS, TOOLS]}, {}),
    ("exact_match", {"predictions": HYPS, "references": REFS}, {"normalizers": ["lowercase"]}),
    ("accuracy", {"predictions": HYPS, "references": REFS}, {"normalizers": ["extract:choice"]}),
]


#: metrics that load a model (marked slow)
MODEL_METRICS = {"bertscore", "ppl"}


@pytest.mark.parametrize(
    ("name", "columns", "params"),
    [pytest.param(*c, id=c[0], marks=[pytest.mark.slow] if c[0] in MODEL_METRICS else []) for c in CASES],
)
def test_evaluate_module_equals_function(name, columns, params):
    module = evaluate.load(evaluate_module_path(name))
    got = module.compute(**columns, **params)
    inputs = MetricInputs(predictions=columns.pop("predictions", []), **columns)
    expected = get_metric(name)(inputs, **params)
    assert got["score"] == pytest.approx(expected.score, rel=1e-6)
    assert got["per_example"] == pytest.approx(expected.per_example, rel=1e-6)
    assert got["signature"] == expected.signature


def test_every_module_script_names_a_registered_metric():
    scripts = {p.stem for p in Path(evaluate_module_path("bleu")).parent.glob("*.py")}
    assert scripts == {case[0] for case in CASES}
    assert scripts <= set(metric_registry())
    with pytest.raises(KeyError, match="no evaluate module"):
        evaluate_module_path("win_rate")
