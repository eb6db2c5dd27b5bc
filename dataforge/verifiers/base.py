"""The verifier contract: score model outputs by rule, one registry for every consumer.

A verifier reads a completion (plus the record's reference answer and tools when it
needs them) and returns a :class:`Check`: a score in [0, 1] (1 = passes), or ``None`` when
the check does not apply to the record, and the reason for anything below 1. Best-of-K
scoring, GRPO/RLOO rewards and evalkit's per-example metrics all call these same classes,
so a reward and a metric never disagree about what counts as correct.

Writing one:

.. code-block:: python

    @register_verifier
    class Polite(Verifier):
        '''1 when the answer says please.'''

        name = "polite"

        class Config(VerifierConfig):
            word: str = Field("please", description="the word to look for")

        def check(self, completion, *, reference=None, tools=None):
            ok = self.config.word in completion.lower()
            return Check(1.0 if ok else 0.0, None if ok else f"no {self.config.word!r}")
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Sequence

from ..config import Config, validate_config
from ..errors import ConfigError, DataError
from ..registry import Registry


class VerifierConfig(Config):
    """Base of every verifier's config (unknown keys are errors)."""


@dataclass(frozen=True)
class Check:
    """One verdict: ``score`` in [0, 1] or None (not applicable); ``reason`` says why not 1."""

    score: float | None
    reason: str | None = None

    @property
    def passed(self) -> bool:
        return self.score is not None and self.score >= 1.0


class Verifier:
    """Base class: subclasses set ``name``, a ``Config`` and implement ``check``."""

    name: ClassVar[str] = ""
    Config: ClassVar[type[VerifierConfig]] = VerifierConfig
    #: True when the check compares with the record's reference answer
    needs_reference: ClassVar[bool] = False
    #: True when the check reads the record's ``tools`` (JSON array of function schemas)
    needs_tools: ClassVar[bool] = False

    def __init__(self, config: VerifierConfig | Mapping[str, Any] | None = None, **params: Any) -> None:
        if isinstance(config, VerifierConfig):
            self.config = config
        else:
            self.config = validate_config(self.Config, {**(config or {}), **params}, f"verifier {self.name!r}")

    def check(self, completion: str, *, reference: str | None = None, tools: str | None = None) -> Check:
        raise NotImplementedError

    def check_all(
        self,
        completions: Sequence[str | None],
        references: Sequence[str | None] | None = None,
        tools: Sequence[str | None] | None = None,
    ) -> list[Check]:
        """One :class:`Check` per completion (references / tools aligned when given)."""
        n = len(completions)
        refs = references if references is not None else [None] * n
        tls = tools if tools is not None else [None] * n
        if len(refs) != n or len(tls) != n:
            raise DataError(f"verifier {self.name!r}: {n} completions, {len(refs)} references, {len(tls)} tools")
        return [
            self.check(c or "", reference=r, tools=t) for c, r, t in zip(completions, refs, tls)
        ]

    def signature(self) -> str:
        """How the verdicts were computed (name and every config value), sacrebleu-style."""
        fields = self.config.model_dump(mode="json")
        return "|".join([f"verifier:{self.name}", *(f"{k}:{v}" for k, v in sorted(fields.items()))])


#: every verifier: built-ins in ``dataforge.verifiers``, plug-ins under ``posttrain.verifiers``
VERIFIERS: Registry[type[Verifier]] = Registry(
    "verifier", group="posttrain.verifiers", packages=("dataforge.verifiers",)
)
register_verifier = VERIFIERS.register


def make_verifier(name: str, params: Mapping[str, Any] | None = None) -> Verifier:
    """Build a registered verifier; unknown names and parameters fail with a suggestion."""
    return VERIFIERS.get(name)(params or {})


class WeightedVerifiers:
    """Several verifiers combined into one score: the weighted mean of the applicable ones.

    ``WeightedVerifiers({"math_answer": 1.0, "length": 0.2}, params={"length": {"max_chars": 800}})``
    A record where no verifier applies scores None.
    """

    def __init__(self, weights: Mapping[str, float], params: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        if not weights:
            raise ConfigError("give at least one verifier")
        params = params or {}
        self.parts = [(make_verifier(name, params.get(name)), float(w)) for name, w in weights.items()]

    def check(self, completion: str, *, reference: str | None = None, tools: str | None = None) -> Check:
        total = weight = 0.0
        reasons = []
        for verifier, w in self.parts:
            result = verifier.check(completion, reference=reference, tools=tools)
            if result.score is None:
                continue
            total += w * result.score
            weight += w
            if result.reason:
                reasons.append(f"{verifier.name}: {result.reason}")
        if weight == 0:
            return Check(None, "no verifier applies")
        return Check(total / weight, "; ".join(reasons) or None)
