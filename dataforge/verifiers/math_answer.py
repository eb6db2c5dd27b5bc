"""``math_answer``: the final answer of a solution equals the reference, numerically."""

from __future__ import annotations

from pydantic import Field

from .answers import final_answer, same_answer
from .base import Check, Verifier, VerifierConfig, register_verifier


@register_verifier
class MathAnswerVerifier(Verifier):
    """1 when the completion's final answer (last ``\\boxed{}``, else after ``####``, else the
    last number) equals the reference's, numbers compared within ``tolerance``."""

    name = "math_answer"
    needs_reference = True

    class Config(VerifierConfig):
        tolerance: float = Field(1e-6, ge=0, description="relative and absolute tolerance for numbers")

    def check(self, completion: str, *, reference: str | None = None, tools: str | None = None) -> Check:
        if reference is None:
            return Check(None, "record has no reference answer")
        gold = final_answer(reference)
        if gold is None:
            return Check(None, "no answer found in the reference")
        got = final_answer(completion)
        if got is None:
            return Check(0.0, "no final answer in the completion")
        if same_answer(got, gold, self.config.tolerance):
            return Check(1.0)
        return Check(0.0, f"answer {got!r} != reference {gold!r}")
