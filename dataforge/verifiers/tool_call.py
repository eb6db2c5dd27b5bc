"""``tool_call``: every tool call in the completion names a declared tool and its
arguments validate against that tool's JSON Schema."""

from __future__ import annotations

from typing import Any

from jsonschema.exceptions import SchemaError
from pydantic import Field

from .base import Check, Verifier, VerifierConfig, register_verifier
from .structured import Invalid, extract_tool_calls, tool_validators, violation


class BadTools(ValueError):
    """A record's ``tools`` field is not an array of function schemas (a data error)."""


def record_tools(tools_json: str) -> dict[str, Any]:
    """Function name -> arguments validator for one record's ``tools`` JSON text."""
    try:
        return tool_validators(tools_json)
    except (ValueError, KeyError, TypeError, AttributeError, SchemaError) as error:
        raise BadTools(
            f"field 'tools' is not an array of function schemas ({type(error).__name__}: {error})"
        ) from error


@register_verifier
class ToolCallVerifier(Verifier):
    """1 when the completion holds at least one tool call and every call is valid against
    the record's ``tools``; not applicable (None) for records without tools."""

    name = "tool_call"
    needs_tools = True

    class Config(VerifierConfig):
        allow_fence: bool = Field(True, description="accept calls as JSON inside a fenced block")

    def check(self, completion: str, *, reference: str | None = None, tools: str | None = None) -> Check:
        if not tools:
            return Check(None, "record has no tools")
        known = record_tools(tools)
        try:
            calls = extract_tool_calls(completion, self.config.allow_fence)
        except Invalid as error:
            return Check(0.0, str(error))
        for name, arguments in calls:
            if name not in known:
                return Check(0.0, f"unknown tool {name!r}; known: {', '.join(sorted(known))}")
            if problem := violation(known[name], arguments):
                return Check(0.0, f"arguments of {name!r}: {problem}")
        return Check(1.0)
