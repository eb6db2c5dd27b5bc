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

import hashlib
import json
from typing import Any, Callable

from dataforge.verifiers.structured import (
    Invalid, NotApplicable, extract_tool_calls, load_schema, parse_json, schema_validator, violation,
)
from dataforge.verifiers.tool_call import BadTools, record_tools

from ._common import mean, signature, version
from .base import MetricInputs, MetricRefused, MetricResult, register_metric

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
    loaded = None if schema is None else load_schema(schema)
    validator = None if loaded is None else schema_validator(loaded)

    def check(text: str | None) -> None:
        value = parse_json(text or "", allow_fence)
        if validator is not None and (problem := violation(validator, value)):
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


def _record_tools(row: int, tools_json: str | None) -> dict[str, Any]:
    """The validators of one record's tools; a malformed ``tools`` field is a data error."""
    if not tools_json:
        raise NotApplicable("record has no tools")
    try:
        return record_tools(tools_json)
    except BadTools as error:
        raise MetricRefused(f"tool_call_valid: row {row}: {error}") from error


@register_metric("tool_call_valid")
def tool_call_valid(inputs: MetricInputs, *, allow_fence: bool = True) -> MetricResult:
    """Share of predictions whose tool calls all name a known tool with valid arguments."""
    if inputs.tools is None:
        raise MetricRefused("tool_call_valid needs the records' tools")
    records = list(enumerate(zip(inputs.predictions, inputs.tools)))

    def check(record: tuple[int, tuple[str | None, str | None]]) -> None:
        row, (text, tools_json) = record
        known = _record_tools(row, tools_json)
        for name, arguments in extract_tool_calls(text or "", allow_fence):
            if name not in known:
                raise Invalid(f"unknown tool {name!r}; known: {', '.join(sorted(known))}")
            if problem := violation(known[name], arguments):
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
