"""``exact_match``: the completion equals the reference after normalizers."""

from __future__ import annotations

import functools
from typing import Any, Callable

from pydantic import Field, field_validator

from .answers import NormalizerSpec, normalize_with, parse_normalizers, same_answer
from .base import Check, Verifier, VerifierConfig, register_verifier


@register_verifier
class ExactMatchVerifier(Verifier):
    """1 when completion and reference are equal after ``normalizers`` (e.g. ``strip``,
    ``lowercase``, ``remove_punct``, ``extract:number``, ``extract:choice``, ``extract:final``)."""

    name = "exact_match"
    needs_reference = True

    class Config(VerifierConfig):
        normalizers: list[NormalizerSpec] = Field(["strip"], description="applied in order to both sides")
        tolerance: float = Field(1e-9, ge=0, description="for extracted numbers")

        @field_validator("normalizers")
        @classmethod
        def _known(cls, specs: list[NormalizerSpec]) -> list[NormalizerSpec]:
            parse_normalizers(specs)
            return specs

    @functools.cached_property
    def _normalize(self) -> Callable[[str], Any]:
        return normalize_with(self.config.normalizers)[1]

    def check(self, completion: str, *, reference: str | None = None, tools: str | None = None) -> Check:
        if reference is None:
            return Check(None, "record has no reference answer")
        got, gold = self._normalize(completion), self._normalize(reference)
        if same_answer(got, gold, self.config.tolerance):
            return Check(1.0)
        return Check(0.0, f"{got!r} != {gold!r}")
