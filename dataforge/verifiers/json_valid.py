"""``json``: the completion is JSON (bare or in a fenced block), optionally conforming to
a JSON Schema."""

from __future__ import annotations

import functools
from typing import Any

from pydantic import Field

from .base import Check, Verifier, VerifierConfig, register_verifier
from .structured import Invalid, load_schema, parse_json, schema_validator, violation


@register_verifier
class JsonVerifier(Verifier):
    """1 when the completion parses as JSON (and conforms to ``schema`` when given)."""

    name = "json"

    class Config(VerifierConfig):
        allow_fence: bool = Field(True, description="accept JSON inside the first ```json fenced block")
        json_schema: dict[str, Any] | str | None = Field(
            None, description="JSON Schema (object, JSON text or file path) the value must conform to"
        )

    @functools.cached_property
    def _validator(self) -> Any:
        schema = self.config.json_schema
        return None if schema is None else schema_validator(load_schema(schema))

    def check(self, completion: str, *, reference: str | None = None, tools: str | None = None) -> Check:
        try:
            value = parse_json(completion, self.config.allow_fence)
        except Invalid as error:
            return Check(0.0, str(error))
        if self._validator is not None and (problem := violation(self._validator, value)):
            return Check(0.0, f"schema: {problem}")
        return Check(1.0)
