"""``length``: the completion's length lies within bounds (characters; CJK-safe)."""

from __future__ import annotations

from pydantic import Field, model_validator

from .base import Check, Verifier, VerifierConfig, register_verifier


@register_verifier
class LengthVerifier(Verifier):
    """1 inside ``[min_chars, max_chars]``; outside, the score falls linearly to 0 over
    ``slack`` (a fraction of the bound), so a reward can prefer "almost right" lengths."""

    name = "length"

    class Config(VerifierConfig):
        min_chars: int = Field(0, ge=0, description="shortest acceptable completion (characters)")
        max_chars: int | None = Field(None, gt=0, description="longest acceptable completion")
        slack: float = Field(0.0, ge=0.0, description="0: hard bounds; 0.5: score 0 at 50% beyond a bound")

        @model_validator(mode="after")
        def _ordered(self) -> "LengthVerifier.Config":
            if self.max_chars is not None and self.max_chars < self.min_chars:
                raise ValueError("max_chars must be >= min_chars")
            return self

    def check(self, completion: str, *, reference: str | None = None, tools: str | None = None) -> Check:
        n, cfg = len(completion.strip()), self.config
        if n < cfg.min_chars:
            return Check(self._falloff(cfg.min_chars - n, cfg.min_chars), f"{n} chars < {cfg.min_chars}")
        if cfg.max_chars is not None and n > cfg.max_chars:
            return Check(self._falloff(n - cfg.max_chars, cfg.max_chars), f"{n} chars > {cfg.max_chars}")
        return Check(1.0)

    def _falloff(self, distance: int, bound: int) -> float:
        if self.config.slack <= 0 or bound <= 0:
            return 0.0
        return max(0.0, 1.0 - distance / (self.config.slack * bound))
