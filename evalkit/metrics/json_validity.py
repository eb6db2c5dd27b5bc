"""Structured-output checks: JSON validity (+ JSON Schema) and tool-call validity.

Both are per-example 1/0 with the reason for every failure in ``extra["reasons"]`` (None
where valid), so a report can show *why* an output failed, not only how many did.

* ``json_valid``: the prediction parses as JSON; with ``allow_fence`` (default) a prediction
  that is not JSON itself may hold it in its first fenced block (three backticks, tagged
  ``json`` or untagged), as chat models like to answer. With ``schema`` (a dict, JSON text
  or a file path) the value must also conform to it (jsonschema, the schema's own draft).
* ``tool_call_valid``: the prediction holds at least one tool call, written as Hermes/Qwen
  ``<tool_call>{...}</tool_call>`` tags (a missing closing tag at the end is tolerated) or as
  JSON: ``{"name", "arguments"}`` (``parameters`` also accepted), a list of them, an
  OpenAI tool-call item ``{"type": "function", "function": {...}}`` or a message with
  ``tool_calls``; ``arguments`` may be JSON text, as in the OpenAI API. Every call must name
  a function of the record's ``tools`` (an array of OpenAI function schemas, JSON text) and
  its arguments must validate against that function's ``parameters``. Records without
  tools are not applicable (None) and left out of the score.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from typing import Any, Callable

from jsonschema import validators
from jsonschema.exceptions import SchemaError, best_match

from ._common import mean, signature, version
from .base import MetricInputs, MetricResult, register_metric

_FENCE = re.compile(r"```([^\n`]*)\n(.*?)```", re.DOTALL)
_TOOL_TAG = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|\Z)", re.DOTALL)


class Invalid(ValueError):
    """A prediction failed a check; the message is the reason stored per example."""


class NotApplicable(Exception):
    """The check does not apply to this record (it is left out of the score)."""


def parse_json(text: str, allow_fence: bool = True) -> Any:
    """The JSON value of ``text`` (or of its first json/untagged fenced block)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        if allow_fence:
            for tag, body in _FENCE.findall(text):
                if tag.strip().lower() in ("", "json"):
                    try:
                        return json.loads(body)
                    except json.JSONDecodeError as fenced_error:
                        raise Invalid(f"invalid JSON in fenced block: {fenced_error}") from None
        raise Invalid(f"invalid JSON: {error}") from None


def _validator(schema: dict[str, Any]) -> Any:
    """A jsonschema validator for the schema's declared draft; bad schemas fail loudly."""
    cls = validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _violation(validator: Any, value: Any) -> str | None:
    """The most relevant schema violation of ``value``, or None when it conforms."""
    error = best_match(validator.iter_errors(value))
    return None if error is None else f"{error.message} (at {error.json_path})"


def _load_schema(schema: dict[str, Any] | str) -> dict[str, Any]:
    if isinstance(schema, dict):
        return schema
    if os.path.isfile(schema):
        with open(schema, encoding="utf-8") as handle:
            return json.load(handle)
    return json.loads(schema)


def _checked(items: list[Any], check: Callable[[Any], None]) -> tuple[list, list]:
    """Per-example 1/0/None and reasons: ``check`` passes, raises Invalid or NotApplicable."""
    per_example: list[float | None] = []
    reasons: list[str | None] = []
    for item in items:
        try:
            check(item)
        except Invalid as error:
            per_example.append(0.0)
            reasons.append(str(error))
        except NotApplicable as error:
            per_example.append(None)
            reasons.append(str(error))
        else:
            per_example.append(1.0)
            reasons.append(None)
    return per_example, reasons


@register_metric("json_valid")
def json_valid(
    inputs: MetricInputs,
    *,
    allow_fence: bool = True,
    schema: dict[str, Any] | str | None = None,
) -> MetricResult:
    """Share of predictions that are JSON (and conform to ``schema`` when given)."""
    loaded = None if schema is None else _load_schema(schema)
    validator = None if loaded is None else _validator(loaded)

    def check(text: str | None) -> None:
        value = parse_json(text or "", allow_fence)
        if validator is not None and (problem := _violation(validator, value)):
            raise Invalid(f"schema: {problem}")

    per_example, reasons = _checked(list(inputs.predictions), check)
    schema_id = "none"
    if loaded is not None:
        canonical = json.dumps(loaded, sort_keys=True, ensure_ascii=False)
        schema_id = hashlib.sha256(canonical.encode()).hexdigest()[:12]
    return MetricResult(
        name="json_valid",
        score=mean(per_example),
        signature=signature(
            fence=allow_fence, schema=schema_id, jsonschema=version("jsonschema")
        ),
        per_example=per_example,
        extra={"reasons": reasons},
    )


def _as_calls(value: Any) -> list[tuple[str, Any]]:
    """(name, arguments) of every tool call in a parsed JSON value."""
    if isinstance(value, list):
        return [call for item in value for call in _as_calls(item)]
    if isinstance(value, dict):
        if "tool_calls" in value:
            return _as_calls(value["tool_calls"])
        if isinstance(value.get("function"), dict):
            return _as_calls(value["function"])
        if isinstance(value.get("name"), str):
            arguments = value.get("arguments", value.get("parameters", {}))
            if isinstance(arguments, str):
                try:
                    arguments = json.loads(arguments)
                except json.JSONDecodeError as error:
                    raise Invalid(f"arguments of {value['name']!r} are not JSON: {error}") from None
            return [(value["name"], arguments)]
    raise Invalid(f"not a tool call: {json.dumps(value, ensure_ascii=False)[:80]}")


def extract_tool_calls(text: str, allow_fence: bool = True) -> list[tuple[str, Any]]:
    """Tool calls in a model output: ``<tool_call>`` tags, else the output as JSON."""
    tagged = _TOOL_TAG.findall(text)
    payloads = [parse_json(t, False) for t in tagged] if tagged else [parse_json(text, allow_fence)]
    calls = [call for payload in payloads for call in _as_calls(payload)]
    if not calls:
        raise Invalid("no tool call")
    return calls


@functools.lru_cache(maxsize=256)
def _tool_validators(tools_json: str) -> dict[str, Any]:
    """Function name -> validator of its parameters, for one record's tools (cached)."""
    tools = json.loads(tools_json)
    result = {}
    for tool in tools if isinstance(tools, list) else [tools]:
        function = tool.get("function", tool)
        result[function["name"]] = _validator(function.get("parameters") or {"type": "object"})
    return result


def _record_tools(row: int, tools_json: str | None) -> dict[str, Any]:
    """The validators of one record's tools; a malformed ``tools`` field is a data error."""
    if not tools_json:
        raise NotApplicable("record has no tools")
    try:
        return _tool_validators(tools_json)
    except (ValueError, KeyError, TypeError, AttributeError, SchemaError) as error:
        raise ValueError(
            f"tool_call_valid: row {row}: field 'tools' is not an array of function "
            f"schemas ({type(error).__name__}: {error})"
        ) from error


@register_metric("tool_call_valid")
def tool_call_valid(inputs: MetricInputs, *, allow_fence: bool = True) -> MetricResult:
    """Share of predictions whose tool calls all name a known tool with valid arguments."""
    if inputs.tools is None:
        raise ValueError("tool_call_valid needs the records' tools")
    records = list(enumerate(zip(inputs.predictions, inputs.tools)))

    def check(record: tuple[int, tuple[str | None, str | None]]) -> None:
        row, (text, tools_json) = record
        known = _record_tools(row, tools_json)
        for name, arguments in extract_tool_calls(text or "", allow_fence):
            if name not in known:
                raise Invalid(f"unknown tool {name!r}; known: {', '.join(sorted(known))}")
            if problem := _violation(known[name], arguments):
                raise Invalid(f"arguments of {name!r}: {problem}")

    per_example, reasons = _checked(records, check)
    return MetricResult(
        name="tool_call_valid",
        score=mean(per_example),
        signature=signature(
            formats="json,openai,hermes-tags", fence=allow_fence, jsonschema=version("jsonschema")
        ),
        per_example=per_example,
        extra={"reasons": reasons},
    )
