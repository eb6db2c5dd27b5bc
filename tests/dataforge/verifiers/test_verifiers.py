"""Rule verifiers: one registry, shared with evalkit's metrics (same verdicts)."""

from __future__ import annotations

import json

import pytest

from dataforge.errors import ConfigError, UnknownNameError
from dataforge.verifiers import VERIFIERS, Check, WeightedVerifiers, make_verifier
from dataforge.verifiers.answers import final_answer
from evalkit.metrics import MetricInputs, get_metric

TOOLS = json.dumps([{"type": "function", "function": {
    "name": "get_bp", "parameters": {"type": "object", "properties": {"systolic": {"type": "integer"}},
                                     "required": ["systolic"]}}}])


def test_registry_lists_the_built_ins_and_suggests_on_typos():
    assert {"json", "regex", "math_answer", "exact_match", "tool_call", "length"} <= set(VERIFIERS.names())
    with pytest.raises(UnknownNameError, match=r"did you mean 'math_answer'"):
        make_verifier("math_answr")
    with pytest.raises(ConfigError, match=r"unknown parameter 'tolerence' \(did you mean 'tolerance'\?\)"):
        make_verifier("math_answer", {"tolerence": 0.1})
    with pytest.raises(ConfigError, match="invalid regular expression"):
        make_verifier("regex", {"pattern": "("})


@pytest.mark.parametrize(("text", "answer"), [
    (r"so the total is \boxed{72}.", 72.0),
    (r"\boxed{\frac{3}{4}}", 0.75),
    (r"\boxed{\$1,234}", 1234.0),
    (r"first \boxed{1} then \boxed{{2}}", "{2}"),
    ("She has 5 + 7 = 12 apples.\n#### 12", 12.0),
    ("答案是 -3.5 米", -3.5),
    (r"\boxed{x^2+1}", "x^2+1"),
    ("no digits here", None),
])
def test_final_answer_reads_boxed_hashes_or_the_last_number(text, answer):
    assert final_answer(text) == answer


def test_math_answer_compares_numerically_and_skips_records_without_reference():
    v = make_verifier("math_answer")
    assert v.check(r"\boxed{0.75}", reference="#### 3/4") == Check(1.0)
    wrong = v.check("I think 13", reference="#### 12")
    assert wrong.score == 0.0 and "13" in wrong.reason
    assert v.check("12", reference=None).score is None
    assert v.check("none", reference="#### 12").reason == "no final answer in the completion"


def test_json_and_schema():
    v = make_verifier("json", {"json_schema": {"type": "object", "required": ["a"]}})
    assert v.check('```json\n{"a": 1}\n```').passed
    assert v.check('{"b": 1}').reason.startswith("schema: 'a' is a required property")
    assert v.check("{oops").score == 0.0


def test_tool_call_validates_names_and_arguments():
    v = make_verifier("tool_call")
    ok = '<tool_call>{"name": "get_bp", "arguments": {"systolic": 150}}</tool_call>'
    assert v.check(ok, tools=TOOLS).passed
    assert "unknown tool 'bp'" in v.check('{"name": "bp", "arguments": {}}', tools=TOOLS).reason
    assert "is not of type 'integer'" in v.check('{"name": "get_bp", "arguments": {"systolic": "x"}}', tools=TOOLS).reason
    assert v.check(ok, tools=None).score is None


def test_regex_length_exact_match():
    assert make_verifier("regex", {"pattern": r"^<think>.*</think>", "mode": "search"}).check("<think>a\nb</think> 4").passed
    assert make_verifier("regex", {"pattern": r"\d+", "mode": "full"}).check("12a").score == 0.0
    length = make_verifier("length", {"min_chars": 2, "max_chars": 10, "slack": 0.5})
    assert length.check("hello").passed and length.check("x" * 15).score == 0.0
    assert length.check("x" * 12).score == pytest.approx(1 - 2 / 5)
    em = make_verifier("exact_match", {"normalizers": ["strip", "extract:choice"]})
    assert em.check("答案是（B）", reference="B").passed


def test_weighted_combination_uses_applicable_verifiers_only():
    combo = WeightedVerifiers({"math_answer": 3.0, "length": 1.0}, {"length": {"max_chars": 10}})
    assert combo.check(r"\boxed{4}", reference="4").score == 1.0
    assert combo.check(r"long answer \boxed{4}", reference="4").score == pytest.approx(0.75)
    assert combo.check(r"long answer \boxed{4}", reference=None).score == 0.0  # only length applies


def test_evalkit_metrics_give_the_verifiers_verdicts():
    predictions = ['{"a": 1}', "not json", '```json\n[1, 2]\n```', '<tool_call>{"name": "get_bp", "arguments": {"systolic": 1}}</tool_call>']
    metric = get_metric("json_valid")(MetricInputs(predictions=predictions))
    assert metric.per_example == [c.score for c in make_verifier("json").check_all(predictions)]
    tools = [TOOLS] * len(predictions)
    metric = get_metric("tool_call_valid")(MetricInputs(predictions=predictions, tools=tools))
    assert metric.per_example == [c.score for c in make_verifier("tool_call").check_all(predictions, tools=tools)]
