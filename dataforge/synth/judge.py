"""LLM-as-judge: pointwise rubric scores and pairwise A/B verdicts with position swap.

Both judges take any ``Engine`` (wrap it in ``CachedEngine`` to make re-judging free) and
a plain-text prompt template that users can replace (``template=path``). Only the named
fields are substituted, so templates may contain literal braces (JSON examples):

* pairwise: ``{question}``, ``{answer_a}``, ``{answer_b}`` (required), ``{rubric}``
* pointwise: ``{question}``, ``{answer}`` (required), ``{rubric}``, ``{scale_min}``, ``{scale_max}``

Judges favour the first position and longer answers. The pairwise judge therefore asks
twice, A/B and B/A (``swap=True``): a winner only counts when both orders name it; a
disagreement is a tie and marks the pair position-inconsistent (evalkit reports the rate).

A reply that yields no verdict is asked again (``retries`` times, each with a new seed and,
for a greedy judge, ``retry_temperature``, since a greedy retry would repeat itself), then
recorded as ``"unparseable"``; one bad reply never fails a batch.

Every result carries ``signature`` (engine fingerprint, template hash, params, retry and
swap policy, version), sacrebleu's habit: two numbers are comparable when their
signatures are equal.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

import dataforge

from ..errors import ConfigError
from .engines.base import Engine, GenerationParams, GenerationRequest
from .verdicts import A, B, TIE, parse_pairwise, parse_score

TEMPLATE_DIR = Path(__file__).parent / "judge_templates"
DEFAULT_RUBRIC = "helpfulness, relevance, accuracy, depth and level of detail"
#: Default judge decoding: greedy, room for a short rationale before the verdict.
DEFAULT_PARAMS = GenerationParams(max_new_tokens=512)
UNPARSEABLE = "unparseable"

_FIELD = re.compile(r"\{([a-z_]+)\}")
_SWAPPED = {A: B, B: A, TIE: TIE}
_T = TypeVar("_T")


def load_template(template: str | os.PathLike[str] | None, default: str, required: Sequence[str]) -> str:
    """Read a template file (``None`` -> the shipped ``default``) and check its fields."""
    path = Path(template) if template is not None else TEMPLATE_DIR / default
    text = path.read_text(encoding="utf-8")
    missing = [f for f in required if "{" + f + "}" not in text]
    if missing:
        raise ConfigError(f"judge template {path} lacks the field(s) {', '.join('{' + f + '}' for f in missing)}")
    return text


def render_template(text: str, values: dict[str, str]) -> str:
    """Substitute the ``{field}`` names given in ``values``; everything else is literal
    (also used by the augment step's templates, with their own fields)."""
    return _FIELD.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def _signature(kind: str, engine: Engine, template: str, params: GenerationParams, policy: dict[str, Any]) -> str:
    shown = ",".join(f"{k}={v}" for k, v in params.to_dict().items() if k != "n")
    parts = {
        "judge": kind,
        "engine": engine.fingerprint(),
        "model": engine.model,
        "template": hashlib.sha256(template.encode("utf-8")).hexdigest()[:12],
        "params": shown,
        **policy,
        "version": dataforge.__version__,
    }
    return "|".join(f"{k}:{v}" for k, v in parts.items())


@dataclass
class _Reply:
    value: Any  # the parsed verdict or score; None when unparseable
    text: str
    attempts: int


def _ask(
    engine: Engine,
    prompts: Sequence[str],
    parse: Callable[[str], _T | None],
    params: GenerationParams,
    retries: int,
    retry_temperature: float,
) -> list[_Reply]:
    """One batched call per round; only the still-unparseable prompts go to the next round."""
    replies = [_Reply(None, "", 0) for _ in prompts]
    pending = list(range(len(prompts)))
    for attempt in range(retries + 1):
        if not pending:
            break
        round_params = params if attempt == 0 else dataclasses.replace(
            params, seed=params.seed + attempt, temperature=params.temperature or retry_temperature
        )
        requests = [GenerationRequest.from_messages([{"role": "user", "content": prompts[i]}]) for i in pending]
        outputs = engine.generate(requests, round_params)
        still = []
        for i, (sample,) in zip(pending, outputs):
            value = parse(sample.text) if sample.finish_reason != "error" else None
            replies[i] = _Reply(value, sample.text or (sample.error or ""), attempt + 1)
            if value is None:
                still.append(i)
        pending = still
    return replies


def _check_lengths(*columns: Sequence[str]) -> None:
    if len({len(c) for c in columns}) > 1:
        raise ValueError(f"judge inputs differ in length: {[len(c) for c in columns]}")


@dataclass
class PairwiseResult:
    """One pair. Verdicts are in the caller's labels: A = ``answers_a`` (the baseline),
    B = ``answers_b`` (the candidate), whatever position the judge saw them in."""

    winner: str  # "A" | "B" | "tie" | "unparseable"
    verdict_ab: str  # order 1 (A shown first)
    verdict_ba: str | None  # order 2 (B shown first); None without swap
    consistent: bool | None  # both orders parsed and agreed; None if not checkable
    judgment_ab: str
    judgment_ba: str | None
    attempts_ab: int
    attempts_ba: int
    signature: str

    @property
    def outcome(self) -> str:
        """From B's side, as evalkit's win-rate expects: win / tie / loss / unparseable."""
        return {B: "win", A: "loss", TIE: "tie"}.get(self.winner, UNPARSEABLE)

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "outcome": self.outcome}


def combine_orders(verdict_ab: str, verdict_ba: str | None) -> tuple[str, bool | None]:
    """The swap-consistent winner and whether the two orders agreed.

    Without a second order the first stands (consistency unknown). With both: agreement ->
    that verdict; disagreement -> tie, inconsistent; a missing verdict in either order ->
    unparseable (a single order cannot be checked for position bias).
    """
    if verdict_ba is None:
        return verdict_ab, None
    if UNPARSEABLE in (verdict_ab, verdict_ba):
        return UNPARSEABLE, None
    if verdict_ab == verdict_ba:
        return verdict_ab, True
    return TIE, False


class _Judge:
    """What both judges share: engine, template, rubric, one-reply decoding, retry policy."""

    def __init__(
        self,
        engine: Engine,
        template: str | os.PathLike[str] | None,
        default_template: str,
        required: Sequence[str],
        rubric: str,
        params: GenerationParams,
        retries: int,
        retry_temperature: float,
    ) -> None:
        self.engine = engine
        self.template = load_template(template, default_template, required)
        self.rubric = rubric
        self.params = dataclasses.replace(params, n=1)  # one verdict per prompt
        self.retries = retries
        self.retry_temperature = retry_temperature

    def _signature(self, kind: str, policy: dict[str, Any]) -> str:
        retries = {"retries": f"{self.retries}@t={self.retry_temperature}"}
        return _signature(kind, self.engine, self.template, self.params, {**retries, **policy})

    def _ask(self, prompts: Sequence[str], parse: Callable[[str], _T | None]) -> list[_Reply]:
        return _ask(self.engine, prompts, parse, self.params, self.retries, self.retry_temperature)


class PairwiseJudge(_Judge):
    """Which of two answers to the same question is better, asked in both orders."""

    def __init__(
        self,
        engine: Engine,
        *,
        template: str | os.PathLike[str] | None = None,
        rubric: str = DEFAULT_RUBRIC,
        params: GenerationParams = DEFAULT_PARAMS,
        retries: int = 2,
        retry_temperature: float = 0.7,
        swap: bool = True,
    ) -> None:
        super().__init__(engine, template, "pairwise.txt", ("question", "answer_a", "answer_b"), rubric,
                         params, retries, retry_temperature)
        self.swap = swap
        self.signature = self._signature("pairwise", {"swap": "both-orders" if swap else "none"})

    def prompt(self, question: str, first: str, second: str) -> str:
        """The judge prompt with ``first`` shown as answer A (exposed to preview templates)."""
        return render_template(
            self.template, {"question": question, "answer_a": first, "answer_b": second, "rubric": self.rubric}
        )

    def judge(
        self, questions: Sequence[str], answers_a: Sequence[str], answers_b: Sequence[str]
    ) -> list[PairwiseResult]:
        """Judge each (question, a, b); both orders of all pairs go out in one batch."""
        _check_lengths(questions, answers_a, answers_b)
        prompts = [self.prompt(q, a, b) for q, a, b in zip(questions, answers_a, answers_b)]
        if self.swap:
            prompts += [self.prompt(q, b, a) for q, a, b in zip(questions, answers_a, answers_b)]
        replies = self._ask(prompts, parse_pairwise)
        results = []
        for i in range(len(questions)):
            first = replies[i]
            second = replies[len(questions) + i] if self.swap else None
            verdict_ab = first.value or UNPARSEABLE
            verdict_ba = None if second is None else (_SWAPPED[second.value] if second.value else UNPARSEABLE)
            winner, consistent = combine_orders(verdict_ab, verdict_ba)
            results.append(PairwiseResult(
                winner=winner,
                verdict_ab=verdict_ab,
                verdict_ba=verdict_ba,
                consistent=consistent,
                judgment_ab=first.text,
                judgment_ba=None if second is None else second.text,
                attempts_ab=first.attempts,
                attempts_ba=0 if second is None else second.attempts,
                signature=self.signature,
            ))
        return results


@dataclass
class PointwiseResult:
    score: float | None  # None when unparseable
    rationale: str  # the judge's full reply
    status: str  # "ok" | "unparseable"
    attempts: int
    signature: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class PointwiseJudge(_Judge):
    """A rubric score for one answer on a ``scale`` (default 1-10)."""

    def __init__(
        self,
        engine: Engine,
        *,
        template: str | os.PathLike[str] | None = None,
        rubric: str = DEFAULT_RUBRIC,
        scale: tuple[float, float] = (1, 10),
        params: GenerationParams = DEFAULT_PARAMS,
        retries: int = 2,
        retry_temperature: float = 0.7,
    ) -> None:
        if scale[0] >= scale[1]:
            raise ConfigError(f"scale must be (low, high) with low < high, got {scale}")
        super().__init__(engine, template, "pointwise.txt", ("question", "answer"), rubric,
                         params, retries, retry_temperature)
        self.scale = scale
        self.signature = self._signature("pointwise", {"scale": f"{scale[0]:g}-{scale[1]:g}"})

    def prompt(self, question: str, answer: str) -> str:
        """The judge prompt for one answer (exposed to preview templates)."""
        low, high = self.scale
        return render_template(self.template, {
            "question": question, "answer": answer, "rubric": self.rubric,
            "scale_min": f"{low:g}", "scale_max": f"{high:g}",
        })

    def judge(self, questions: Sequence[str], answers: Sequence[str]) -> list[PointwiseResult]:
        """Score each (question, answer); all prompts go out in one batch per retry round."""
        _check_lengths(questions, answers)
        prompts = [self.prompt(q, a) for q, a in zip(questions, answers)]
        low, high = self.scale
        replies = self._ask(prompts, lambda text: parse_score(text, low, high))
        return [
            PointwiseResult(
                score=r.value,
                rationale=r.text,
                status="ok" if r.value is not None else UNPARSEABLE,
                attempts=r.attempts,
                signature=self.signature,
            )
            for r in replies
        ]
