"""Scorers for best-of-K: one registry, every score in [0, 1], several combined by weight.

* ``judge``: the pointwise LLM judge (:class:`~dataforge.synth.judge.PointwiseJudge`);
  its rubric score on ``scale`` is mapped linearly to [0, 1]; an unparseable verdict
  scores None (the sample is not ranked by this scorer);
* ``reward_model``: a local sequence-classification model (the reward-model training
  stage produces one); the prompt plus completion is rendered with the model's chat
  template and the logit of a one-label head goes through a sigmoid (two labels: the
  probability of label 1);
* every rule verifier of :data:`dataforge.verifiers.VERIFIERS` (``json``, ``regex``,
  ``math_answer``, ``tool_call``, ``length``, ``exact_match``...): the same code evalkit's
  metrics and the GRPO rewards call. A verifier that does not apply (no reference, no
  tools) scores None.

:class:`WeightedScorers` combines them: the weighted mean of the scores that are not
None; a sample where none applies is unscored. A scorer is named in a step's config as
``{name: weight}`` or ``{name: {weight: w, <its config>}}``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping

from pydantic import Field

from ..config import Config, validate_config
from ..errors import ConfigError, UnknownNameError
from ..registry import Registry
from ..verifiers import VERIFIERS, Verifier
from .engines.base import Engine, GenerationParams


@dataclass
class Items:
    """What scorers read, one entry per sample: the prompt (messages and readable text),
    the completion, the record's reference answer and tools."""

    prompts: list[list[dict[str, Any]]]
    questions: list[str]
    completions: list[str]
    references: list[str | None]
    tools: list[str | None]

    def __len__(self) -> int:
        return len(self.completions)


@dataclass
class Score:
    """One scorer's verdict on one sample: ``value`` in [0, 1] or None, why not 1, and
    what the lineage should keep (a judge's raw score and rationale)."""

    value: float | None
    reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Scorer:
    """Base class: ``name``, a ``Config``, and ``score(items) -> list[Score]``."""

    name: ClassVar[str] = ""
    Config: ClassVar[type[Config]] = Config

    def score(self, items: Items) -> list[Score]:
        raise NotImplementedError

    def signature(self) -> str:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the scorer loaded (a reward model)."""


#: ``judge``, ``reward_model`` and plug-ins (entry-point group ``posttrain.scorers``);
#: every verifier name is a scorer too (see :func:`make_scorer`)
SCORERS: Registry[type[Scorer]] = Registry("scorer", group="posttrain.scorers")

EngineFactory = Callable[["EngineSpec | None"], Engine]


class EngineSpec(Config):
    """Which engine generates (or judges): kind, model and the engine's options."""

    kind: str = Field(
        "auto", description="engine kind (`dataforge engines` lists them); auto: llamacpp on CPU for GGUF models, else transformers"
    )
    model: str | None = Field(None, description="model alias, path, hub id or served name; default the engine's")
    options: dict[str, Any] = Field(default_factory=dict, description="the engine's options, checked at load")


class VerifierScorer(Scorer):
    """A rule verifier used as a scorer."""

    def __init__(self, verifier: Verifier) -> None:
        self.verifier = verifier
        self.name = verifier.name  # type: ignore[misc]

    def score(self, items: Items) -> list[Score]:
        checks = self.verifier.check_all(items.completions, items.references, items.tools)
        return [Score(c.score, c.reason) for c in checks]

    def signature(self) -> str:
        return self.verifier.signature()


@SCORERS.register
class JudgeScorer(Scorer):
    """The pointwise LLM judge; its score on ``scale`` mapped to [0, 1]."""

    name = "judge"

    class Config(Config):
        rubric: str | None = Field(None, description="what the judge looks at; default the shipped rubric")
        scale: tuple[float, float] = Field((1, 10), description="(worst, best) score the judge gives")
        template: str | None = Field(None, description="judge prompt template file; default the shipped one")
        retries: int = Field(2, ge=0, description="re-asks when a reply has no score")
        max_new_tokens: int = Field(512, gt=0, description="length of the judge's reply")
        engine: EngineSpec | None = Field(None, description="engine of the judge; default the step's engine")

    def __init__(self, config: Mapping[str, Any] | None = None, *, engine_for: EngineFactory) -> None:
        from .judge import DEFAULT_RUBRIC, PointwiseJudge

        self.config = validate_config(self.Config, config, "scorer 'judge'")
        cfg = self.config
        self.judge = PointwiseJudge(
            engine_for(cfg.engine), template=cfg.template, rubric=cfg.rubric or DEFAULT_RUBRIC,
            scale=cfg.scale, params=GenerationParams(max_new_tokens=cfg.max_new_tokens), retries=cfg.retries,
        )

    def score(self, items: Items) -> list[Score]:
        low, high = self.config.scale
        out = []
        for result in self.judge.judge(items.questions, items.completions):
            extra = {"judge_score": result.score, "judge_rationale": result.rationale}
            if result.score is None:
                out.append(Score(None, "judge reply has no score", extra))
            else:
                value = (result.score - low) / (high - low)
                reason = None if value >= 1 else f"judge score {result.score:g}/{high:g}"
                out.append(Score(value, reason, extra))
        return out

    def signature(self) -> str:
        return self.judge.signature


@SCORERS.register
class RewardModelScorer(Scorer):
    """A local sequence-classification reward model (see module docstring)."""

    name = "reward_model"

    class Config(Config):
        path: str = Field(description="folder of the sequence-classification model (and its tokenizer)")
        batch_size: int = Field(8, ge=1, description="sequences per forward pass")
        max_length: int = Field(1024, gt=0, description="longer prompt + completion pairs are cut from the left")
        device: str = Field("auto", description="auto: cuda when available, else cpu")

    def __init__(self, config: Mapping[str, Any] | None = None, **_: Any) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.config = validate_config(self.Config, config, "scorer 'reward_model'")
        cfg = self.config
        device = cfg.device if cfg.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
        self.device = torch.device(device)
        self.tokenizer = AutoTokenizer.from_pretrained(cfg.path, truncation_side="left", padding_side="right")
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForSequenceClassification.from_pretrained(cfg.path).to(self.device).eval()
        if self.model.config.pad_token_id is None:
            self.model.config.pad_token_id = self.tokenizer.pad_token_id

    def _texts(self, items: Items) -> list[str]:
        from ..chat_template import to_hf_conversation

        if not getattr(self.tokenizer, "chat_template", None):
            return [f"{q}\n{c}" for q, c in zip(items.questions, items.completions)]
        return [
            self.tokenizer.apply_chat_template(
                to_hf_conversation([*p, {"role": "assistant", "content": c}]), tokenize=False)
            for p, c in zip(items.prompts, items.completions)
        ]

    def score(self, items: Items) -> list[Score]:
        import torch

        texts = self._texts(items)
        values: list[float] = []
        for start in range(0, len(texts), self.config.batch_size):
            batch = self.tokenizer(texts[start:start + self.config.batch_size], return_tensors="pt",
                                   padding=True, truncation=True, max_length=self.config.max_length,
                                   add_special_tokens=False).to(self.device)
            with torch.inference_mode():
                logits = self.model(**batch).logits.float()
            probs = logits[:, 0].sigmoid() if logits.shape[-1] == 1 else logits.softmax(-1)[:, 1]
            values += probs.tolist()
        return [Score(v, None if v >= 1 else f"reward {v:.3f}", {"reward": v}) for v in values]

    def signature(self) -> str:
        return f"scorer:reward_model|path:{self.config.path}|max_length:{self.config.max_length}"

    def close(self) -> None:
        self.model = None  # type: ignore[assignment]


def scorer_names() -> list[str]:
    """Every name a best-of-K step accepts: the scorers and every verifier."""
    return sorted(set(SCORERS.names()) | set(VERIFIERS.names()))


def scorer_config(name: str) -> type[Config]:
    """The config model of scorer ``name`` (a verifier's own config for verifiers)."""
    if name in SCORERS.names():
        return SCORERS.get(name).Config
    if name in VERIFIERS.names():
        return VERIFIERS.get(name).Config
    raise UnknownNameError("scorer", name, scorer_names())


def split_spec(name: str, spec: float | Mapping[str, Any]) -> tuple[float, dict[str, Any]]:
    """``{name: 2.0}`` or ``{name: {weight: 2.0, ...config}}`` -> (weight, config)."""
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        weight, params = float(spec), {}
    elif isinstance(spec, Mapping):
        params = dict(spec)
        weight = float(params.pop("weight", 1.0))
    else:
        raise ConfigError(f"scorer {name!r}: give a weight or a mapping with `weight` and options, not {spec!r}")
    if not weight > 0 or math.isinf(weight):
        raise ConfigError(f"scorer {name!r}: weight must be a positive number, not {weight}")
    return weight, params


def check_scorers(specs: Mapping[str, float | Mapping[str, Any]]) -> None:
    """Validate names, weights and options without loading anything (recipe load, CLI)."""
    if not specs:
        raise ConfigError("best_of_k needs at least one scorer")
    for name, spec in specs.items():
        _, params = split_spec(name, spec)
        validate_config(scorer_config(name), params, f"scorer {name!r}")


def make_scorer(name: str, params: Mapping[str, Any], engine_for: EngineFactory) -> Scorer:
    if name in SCORERS.names():
        return SCORERS.get(name)(params, engine_for=engine_for)  # type: ignore[call-arg]
    if name in VERIFIERS.names():
        return VerifierScorer(VERIFIERS.get(name)(params))
    raise UnknownNameError("scorer", name, scorer_names())


@dataclass
class Combined:
    """One sample's combined score, each scorer's value, and the reasons below 1."""

    total: float | None
    parts: dict[str, float | None]
    reasons: list[str]
    extra: dict[str, Any]


class WeightedScorers:
    """Several scorers, one score per sample: the weighted mean of those that apply."""

    def __init__(self, specs: Mapping[str, float | Mapping[str, Any]], engine_for: EngineFactory) -> None:
        check_scorers(specs)
        self.parts: list[tuple[Scorer, float]] = []
        for name, spec in specs.items():
            weight, params = split_spec(name, spec)
            self.parts.append((make_scorer(name, params, engine_for), weight))

    def score(self, items: Items) -> list[Combined]:
        per_scorer = [(scorer, weight, scorer.score(items)) for scorer, weight in self.parts]
        out = []
        for i in range(len(items)):
            total = weight_sum = 0.0
            parts: dict[str, float | None] = {}
            reasons: list[str] = []
            extra: dict[str, Any] = {}
            for scorer, weight, scores in per_scorer:
                s = scores[i]
                parts[scorer.name] = s.value
                extra.update(s.extra)
                if s.reason:
                    reasons.append(f"{scorer.name}: {s.reason}")
                if s.value is not None:
                    total += weight * s.value
                    weight_sum += weight
            out.append(Combined(total / weight_sum if weight_sum else None, parts, reasons, extra))
        return out

    def signatures(self) -> dict[str, str]:
        return {scorer.name: scorer.signature() for scorer, _ in self.parts}

    def weights(self) -> dict[str, float]:
        return {scorer.name: weight for scorer, weight in self.parts}

    def close(self) -> None:
        for scorer, _ in self.parts:
            scorer.close()
