"""Rewards for the sampling stages (grpo, rloo, ppo): verifiers, a reward model, a judge.

Every reward is a callable with TRL's reward-function signature,
``fn(prompts, completions, **columns) -> list[float | None]`` (``columns`` carries the
dataset's ``reference``, ``tools`` and a readable ``question``), so TRL's trainers and our PPO call the same code,
and so do best-of-K scoring and evalkit through ``dataforge.verifiers``:

* ``verifiers``: :class:`~dataforge.verifiers.WeightedVerifiers` over the named rule
  verifiers (math final answer, JSON / JSON Schema, tool-call validity, regex, length),
  the weighted mean of those that apply; None when none applies;
* ``reward_model``: an ``rm`` stage output (or any one-label sequence classifier) scores
  prompt + completion rendered with its own chat template;
* ``judge``: a pointwise LLM judge (``dataforge.synth.judge``) on a rubric, mapped to [0, 1].

The sources combine with ``rewards.weights`` (TRL's ``reward_weights``).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from dataforge import chat_template as ct

from .config import JudgeReward, RewardSpec

RewardFn = Callable[..., list[float | None]]


def completion_text(completion: Any) -> str:
    """A completion as text: TRL passes conversational completions as message lists."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return completion.get("content") or ""
    return "".join((m.get("content") or "") for m in completion if m.get("role") == "assistant")


def prompt_text(prompt: Any) -> str:
    """A prompt for a judge: a one-turn prompt's text, else ``[role] content`` lines."""
    if isinstance(prompt, str):
        return prompt
    if len(prompt) == 1:
        return prompt[0].get("content") or ""
    return "\n".join(f"[{m['role']}] {m.get('content') or ''}" for m in prompt)


def _column(values: Sequence[Any] | None, n: int) -> Sequence[Any]:
    return values if values is not None else [None] * n


class VerifierReward:
    """The weighted rule verifiers as one reward (1 = passes every applicable check)."""

    __name__ = "verifiers"

    def __init__(self, spec: RewardSpec) -> None:
        from dataforge.verifiers import WeightedVerifiers

        self.scorer = WeightedVerifiers(spec.verifiers, spec.verifier_params)

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], reference: Sequence[str | None] | None = None,
                 tools: Sequence[str | None] | None = None, **_: Any) -> list[float | None]:
        n = len(completions)
        return [
            self.scorer.check(completion_text(c), reference=r, tools=t).score
            for c, r, t in zip(completions, _column(reference, n), _column(tools, n))
        ]


class RewardModelReward:
    """A trained reward model's score of prompt + completion (higher is better)."""

    __name__ = "reward_model"

    def __init__(self, ref: str, device: Any = None, batch_size: int = 8) -> None:
        from .loading import load_reward_model

        self.model, self.tokenizer = load_reward_model(ref)
        if device is not None:
            self.model.to(device)
        self.batch_size = batch_size

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **_: Any) -> list[float | None]:
        import torch

        texts = self._texts(prompts, completions)
        scores: list[float | None] = []
        device = next(self.model.parameters()).device
        for start in range(0, len(texts), self.batch_size):
            batch_texts = texts[start : start + self.batch_size]
            batch = self.tokenizer(batch_texts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
            with torch.inference_mode():
                scores.extend(self.model(**batch).logits[:, 0].float().tolist())
        return scores

    def _texts(self, prompts: Sequence[Any], completions: Sequence[Any]) -> list[str]:
        """prompt + completion as the reward model reads them: conversations rendered with
        its chat template; a prompt already rendered to text gets the completion and EOS."""
        if all(isinstance(p, str) for p in prompts):
            eos = self.tokenizer.eos_token or ""
            return [p + completion_text(c) + eos for p, c in zip(prompts, completions)]
        convs = [list(p) + [{"role": "assistant", "content": completion_text(c)}] for p, c in zip(prompts, completions)]
        return [t or "" for t in ct.render(self.tokenizer, convs).texts]


class JudgeRewardFn:
    """A pointwise LLM judge's rubric score, mapped from its scale to [0, 1]."""

    __name__ = "judge"

    def __init__(self, spec: JudgeReward) -> None:
        from dataforge.synth.engines import GenerationParams, make_engine
        from dataforge.synth.judge import DEFAULT_RUBRIC, PointwiseJudge

        engine = make_engine(spec.engine, spec.model, **spec.options)
        self.judge = PointwiseJudge(
            engine, rubric=spec.rubric or DEFAULT_RUBRIC, scale=spec.scale,
            params=GenerationParams(max_new_tokens=spec.max_new_tokens),
        )
        self.low, self.high = spec.scale

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], question: Sequence[str] | None = None,
                 **_: Any) -> list[float | None]:
        questions = question if question is not None else [prompt_text(p) for p in prompts]
        results = self.judge.judge(list(questions), [completion_text(c) for c in completions])
        return [None if r.score is None else (r.score - self.low) / (self.high - self.low) for r in results]


def reward_functions(spec: RewardSpec, device: Any = None) -> tuple[list[RewardFn], list[float]]:
    """The configured reward callables and their weights, in a fixed order."""
    funcs: list[RewardFn] = []
    if spec.verifiers:
        funcs.append(VerifierReward(spec))
    if spec.reward_model:
        funcs.append(RewardModelReward(spec.reward_model, device=device))
    if spec.judge is not None:
        funcs.append(JudgeRewardFn(spec.judge))
    weights = [float(spec.weights.get(f.__name__, 1.0)) for f in funcs]  # type: ignore[union-attr]
    return funcs, weights
