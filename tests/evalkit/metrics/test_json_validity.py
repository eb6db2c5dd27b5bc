"""json_valid and tool_call_valid: parsing, fences, JSON Schema, tool-call formats."""

from __future__ import annotations

import json

import jsonschema
import pytest

from evalkit.metrics import MetricInputs, get_metric

SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name", "age"],
}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "天气查询",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}
SEARCH = {"name": "search", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}
TOOLS = json.dumps([WEATHER, SEARCH], ensure_ascii=False)


def json_valid(predictions, **params):
    return get_metric("json_valid")(MetricInputs(predictions=predictions), **params)


def tool_valid(predictions, tools=None, **params):
    tools = [TOOLS] * len(predictions) if tools is None else tools
    return get_metric("tool_call_valid")(MetricInputs(predictions=predictions, tools=tools), **params)


def test_json_parsing_with_and_without_fences():
    predictions = [
        '{"a": 1}',
        "  [1, 2, 3]\n",
        "null",
        '{"城市": "北京", "温度": 25}',
        'Here you go:\n```json\n{"a": 1}\n```\nDone.',
        "```\n[true]\n```",
        "```python\nprint(1)\n```",
        "{'a': 1}",
        "",
    ]
    result = json_valid(predictions)
    assert result.per_example == [1, 1, 1, 1, 1, 1, 0, 0, 0]
    assert result.score == pytest.approx(6 / 9)
    assert result.extra["reasons"][:6] == [None] * 6
    assert result.extra["reasons"][7].startswith("invalid JSON")
    strict = json_valid(predictions, allow_fence=False)
    assert strict.per_example == [1, 1, 1, 1, 0, 0, 0, 0, 0]
    broken_fence = json_valid(['```json\n{"a": }\n```'])
    assert broken_fence.extra["reasons"][0].startswith("invalid JSON in fenced block")


def test_json_schema_conformance_matches_jsonschema(tmp_path):
    values = [
        {"name": "张三", "age": 30},
        {"name": "Bob", "age": -1},
        {"name": "Eve"},
        {"name": "Al", "age": "30"},
        [1, 2],
    ]
    predictions = [json.dumps(v, ensure_ascii=False) for v in values]
    validator = jsonschema.Draft202012Validator(SCHEMA)
    expected = [float(validator.is_valid(v)) for v in values]
    schema_file = tmp_path / "person.schema.json"
    schema_file.write_text(json.dumps(SCHEMA))
    results = [json_valid(predictions, schema=s) for s in (SCHEMA, json.dumps(SCHEMA), str(schema_file))]
    for result in results:
        assert result.per_example == expected == [1, 0, 0, 0, 0]
        assert result.signature == results[0].signature
    reasons = results[0].extra["reasons"]
    assert "minimum" in reasons[1] and "'age' is a required property" in reasons[2]
    assert "schema:none" in json_valid(predictions).signature
    with pytest.raises(jsonschema.SchemaError):
        json_valid(predictions, schema={"type": "no-such-type"})


def test_tool_call_formats():
    predictions = [
        '{"name": "get_weather", "arguments": {"city": "北京"}}',
        '[{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}, {"name": "search", "arguments": {"q": "x"}}]',
        '{"type": "function", "function": {"name": "get_weather", "arguments": "{\\"city\\": \\"Rome\\"}"}}',
        '{"role": "assistant", "tool_calls": [{"function": {"name": "search", "arguments": "{}"}}]}',
        'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "上海"}}\n</tool_call>\n'
        '<tool_call>{"name": "search", "parameters": {"q": "天气"}}</tool_call>',
        '<tool_call>\n{"name": "search", "arguments": {"q": "unclosed"}}',
        '```json\n{"name": "search", "arguments": {}}\n```',
    ]
    result = tool_valid(predictions)
    assert result.per_example == [1.0] * len(predictions), result.extra["reasons"]
    assert tool_valid(predictions[-1:], allow_fence=False).per_example == [0.0]


def test_tool_call_failures_have_reasons():
    predictions = [
        '{"name": "get_stock", "arguments": {"symbol": "X"}}',
        '{"name": "get_weather", "arguments": {"days": 2}}',
        '{"name": "get_weather", "arguments": {"city": 3}}',
        '{"name": "get_weather", "arguments": "{not json"}',
        "The weather in Paris is sunny.",
        '{"answer": 42}',
        "<tool_call>{broken}</tool_call>",
        "[]",
    ]
    result = tool_valid(predictions)
    assert result.per_example == [0.0] * len(predictions)
    reasons = result.extra["reasons"]
    assert reasons[0].startswith("unknown tool 'get_stock'")
    assert "'city' is a required property" in reasons[1]
    assert "is not of type 'string'" in reasons[2]
    assert "not JSON" in reasons[3]
    assert reasons[4].startswith("invalid JSON") and reasons[5].startswith("not a tool call")
    assert reasons[6].startswith("invalid JSON") and reasons[7] == "no tool call"


def test_records_without_tools_are_left_out():
    call = '{"name": "search", "arguments": {"q": "x"}}'
    result = tool_valid([call, call, "nope"], tools=[TOOLS, None, TOOLS])
    assert result.per_example == [1.0, None, 0.0]
    assert result.score == 0.5
    with pytest.raises(ValueError, match="row 1: field 'tools'"):
        tool_valid([call, call], tools=[TOOLS, "[{\"no_name\": 1}]"])
    with pytest.raises(ValueError, match="needs the records' tools"):
        get_metric("tool_call_valid")(MetricInputs(predictions=[call]))
