"""``regex``: the completion matches a regular expression."""

from __future__ import annotations

import functools
import re
from typing import Literal

from pydantic import Field, field_validator

from .base import Check, Verifier, VerifierConfig, register_verifier


@register_verifier
class RegexVerifier(Verifier):
    """1 when ``pattern`` matches the completion (``search`` anywhere, or ``full``)."""

    name = "regex"

    class Config(VerifierConfig):
        pattern: str = Field(description="Python regular expression")
        mode: Literal["search", "full"] = Field("search", description="match anywhere, or the whole text")
        ignore_case: bool = False
        dotall: bool = Field(True, description="`.` also matches newlines")

        @field_validator("pattern")
        @classmethod
        def _compiles(cls, pattern: str) -> str:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"invalid regular expression: {error}") from None
            return pattern

    @classmethod
    def example_params(cls) -> dict[str, str]:
        return {"pattern": r"^<think>.*</think>"}

    @functools.cached_property
    def _compiled(self) -> re.Pattern[str]:
        flags = (re.IGNORECASE if self.config.ignore_case else 0) | (re.DOTALL if self.config.dotall else 0)
        return re.compile(self.config.pattern, flags)

    def check(self, completion: str, *, reference: str | None = None, tools: str | None = None) -> Check:
        match = (self._compiled.fullmatch if self.config.mode == "full" else self._compiled.search)(completion)
        return Check(1.0) if match else Check(0.0, f"no match for /{self.config.pattern}/")
