"""Reading structured output out of model text: JSON (bare or fenced), JSON Schema
conformance and tool calls (Hermes/Qwen ``<tool_call>`` tags, OpenAI items, plain JSON).

Pure functions shared by the ``json`` / ``tool_call`` verifiers and evalkit's
``json_valid`` / ``tool_call_valid`` metrics. A failed check raises :class:`Invalid` whose
message is the reason stored per example.
"""

from __future__ import annotations

import functools
import json
import os
import re
from typing import Any

from jsonschema import validators
from jsonschema.exceptions import best_match

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


def schema_validator(schema: dict[str, Any]) -> Any:
    """A jsonschema validator for the schema's declared draft; bad schemas fail loudly."""
    cls = validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def violation(validator: Any, value: Any) -> str | None:
    """The most relevant schema violation of ``value``, or None when it conforms."""
    error = best_match(validator.iter_errors(value))
    return None if error is None else f"{error.message} (at {error.json_path})"


def load_schema(schema: dict[str, Any] | str) -> dict[str, Any]:
    if isinstance(schema, dict):
        return schema
    if os.path.isfile(schema):
        with open(schema, encoding="utf-8") as handle:
            return json.load(handle)
    return json.loads(schema)


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
def tool_validators(tools_json: str) -> dict[str, Any]:
    """Function name -> validator of its parameters, for one record's tools (cached)."""
    tools = json.loads(tools_json)
    result = {}
    for tool in tools if isinstance(tools, list) else [tools]:
        function = tool.get("function", tool)
        result[function["name"]] = schema_validator(function.get("parameters") or {"type": "object"})
    return result
