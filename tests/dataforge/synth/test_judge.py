"""Pairwise and pointwise judges: swap logic, retries, templates, signatures; end to end on
the real embedded model."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Callable

import pytest

from dataforge.synth.cache import CachedEngine, GenerationCache
from dataforge.synth.engines import Engine, Generation, GenerationParams, make_engine
from dataforge.synth.judge import (
    UNPARSEABLE,
    PairwiseJudge,
    PointwiseJudge,
    combine_orders,
)

_SHOWN = re.compile(r"Assistant A's Answer\]\n(.*?)\n\[The End.*?Assistant B's Answer\]\n(.*?)\n\[The End", re.S)


class Scripted(Engine):
    """Replies by a rule over the rendered prompt, for the swap / retry / failure logic that
    the real 135M judge cannot be steered into deterministically (it is exercised end to
    end below). ``reply`` returning None simulates a failed request (finish_reason error).
    """

    kind = "scripted"

    def __init__(self, reply: Callable[[str, GenerationParams], str | None]) -> None:
        super().__init__("scripted")
        self.reply = reply
        self.calls: list[tuple[int, int, float]] = []  # (requests, seed, temperature)

    def _generate(self, requests, params):
        self.calls.append((len(requests), params.seed, params.temperature))
        out = []
        for request in requests:
            text = self.reply(request.messages[-1]["content"], params)
            out.append([Generation(text) if text is not None else
                        Generation("", finish_reason="error", error="server said no")])
        return out


def prefers_good(prompt: str, params: GenerationParams) -> str:
    """A fair judge: the answer containing GOOD wins, wherever it is shown."""
    first, second = _SHOWN.search(prompt).groups()
    if "GOOD" in first:
        return "A is more complete. [[A]]"
    if "GOOD" in second:
        return "Verdict: B"
    return "Both are equally good. [[C]]"


QUESTIONS = ["q1", "q2", "q3"]
ANSWERS_A = ["plain", "GOOD answer", "plain"]
ANSWERS_B = ["GOOD answer", "plain", "also plain"]


def test_both_orders_agree_gives_the_winner():
    engine = Scripted(prefers_good)
    results = PairwiseJudge(engine).judge(QUESTIONS, ANSWERS_A, ANSWERS_B)
    assert [r.winner for r in results] == ["B", "A", "tie"]
    assert [r.outcome for r in results] == ["win", "loss", "tie"]
    assert [(r.verdict_ab, r.verdict_ba, r.consistent) for r in results] == [
        ("B", "B", True), ("A", "A", True), ("tie", "tie", True)]
    assert engine.calls == [(6, 0, 0.0)]  # both orders of every pair, one batch
    assert results[0].judgment_ab == "Verdict: B" and results[0].judgment_ba == "A is more complete. [[A]]"


def test_position_bias_turns_into_an_inconsistent_tie():
    results = PairwiseJudge(Scripted(lambda prompt, params: "[[A]]")).judge(QUESTIONS, ANSWERS_A, ANSWERS_B)
    assert {(r.winner, r.verdict_ab, r.verdict_ba, r.consistent) for r in results} == {("tie", "A", "B", False)}


def test_unparseable_replies_are_retried_with_a_new_seed_only_where_needed():
    def stubborn_first(prompt: str, params: GenerationParams) -> str:
        if "STUBBORN" in prompt and params.seed == 0:
            return "Let me think about it."
        return prefers_good(prompt, params)

    engine = Scripted(stubborn_first)
    judge = PairwiseJudge(engine, params=GenerationParams(seed=0), retries=2, retry_temperature=0.5)
    results = judge.judge(["STUBBORN q", "q"], ["plain", "plain"], ["GOOD", "GOOD"])
    assert engine.calls == [(4, 0, 0.0), (2, 1, 0.5)]  # greedy retry would repeat itself
    assert [(r.winner, r.attempts_ab, r.attempts_ba) for r in results] == [("B", 2, 2), ("B", 1, 1)]


def test_failures_are_recorded_as_unparseable_without_failing_the_batch():
    def flaky(prompt: str, params: GenerationParams) -> str | None:
        if "BROKEN" in prompt:
            return None
        if "VAGUE" in prompt:
            return "Hard to say."
        return prefers_good(prompt, params)

    engine = Scripted(flaky)
    results = PairwiseJudge(engine, retries=1).judge(["BROKEN", "VAGUE", "fine"], ["x"] * 3, ["GOOD"] * 3)
    assert [r.winner for r in results] == [UNPARSEABLE, UNPARSEABLE, "B"]
    assert [r.outcome for r in results] == [UNPARSEABLE, UNPARSEABLE, "win"]
    assert results[0].verdict_ab == results[0].verdict_ba == UNPARSEABLE
    assert results[0].judgment_ab == "server said no" and results[1].judgment_ab == "Hard to say."
    assert (results[0].attempts_ab, results[2].attempts_ab) == (2, 1)
    assert engine.calls == [(6, 0, 0.0), (4, 1, 0.7)]


def test_combine_orders_policy():
    assert combine_orders("B", "B") == ("B", True)
    assert combine_orders("A", "tie") == ("tie", False)
    assert combine_orders("A", UNPARSEABLE) == (UNPARSEABLE, None)
    assert combine_orders("A", None) == ("A", None)


def test_without_swap_one_order_is_asked():
    engine = Scripted(prefers_good)
    judge = PairwiseJudge(engine, swap=False)
    results = judge.judge(QUESTIONS, ANSWERS_A, ANSWERS_B)
    assert engine.calls == [(3, 0, 0.0)]
    assert [(r.winner, r.verdict_ba, r.consistent, r.attempts_ba) for r in results] == [
        ("B", None, None, 0), ("A", None, None, 0), ("tie", None, None, 0)]
    assert "swap:none" in judge.signature


def test_pointwise_scores_on_a_configurable_scale():
    seen: list[str] = []

    def rate(prompt: str, params: GenerationParams) -> str:
        seen.append(prompt)
        return "Rating: [[4]]" if "SHORT" in prompt else "Score: 11"

    judge = PointwiseJudge(Scripted(rate), scale=(0, 5), retries=1)
    results = judge.judge(["q", "q"], ["SHORT answer", "long answer"])
    assert [(r.score, r.status, r.attempts) for r in results] == [(4.0, "ok", 1), (None, UNPARSEABLE, 2)]
    assert results[1].rationale == "Score: 11"
    assert "from 0 (worst) to 5 (best)" in seen[0]
    assert "scale:0-5" in judge.signature


def test_templates_are_replaceable_files_and_named_in_the_signature(tmp_path: Path):
    custom = tmp_path / "strict.txt"
    custom.write_text('Q: {question}\n1) {answer_a}\n2) {answer_b}\nCriteria: {rubric}\nReply {"verdict": "A"}\n')
    engine = Scripted(prefers_good)
    default = PairwiseJudge(engine)
    mine = PairwiseJudge(engine, template=custom, rubric="brevity")
    assert mine.prompt("Why?", "x", "y") == 'Q: Why?\n1) x\n2) y\nCriteria: brevity\nReply {"verdict": "A"}\n'
    assert mine.signature != default.signature
    assert mine.signature.split("|")[0:2] == ["judge:pairwise", "engine:scripted:scripted"]
    assert "swap:both-orders" in mine.signature and "retries:2@t=0.7" in mine.signature
    assert "max_new_tokens=512" in default.signature

    broken = tmp_path / "broken.txt"
    broken.write_text("Q: {question}\n{answer_a}\n")
    with pytest.raises(ValueError, match=r"\{answer_b\}"):
        PairwiseJudge(engine, template=broken)


@pytest.fixture(scope="module")
def real_engine(smollm_path) -> Engine:
    return make_engine("transformers", smollm_path)


@pytest.mark.slow
def test_judges_run_end_to_end_on_the_real_model(real_engine, tmp_path: Path):
    """The 135M judge is weak, so verdicts are not asserted; the machinery is: every pair
    gets a well-formed, swap-combined result, and re-judging through the cache is free."""
    cached = CachedEngine(real_engine, GenerationCache(tmp_path / "judge.sqlite"))
    params = GenerationParams(max_new_tokens=8)
    pairwise = PairwiseJudge(cached, params=params, retries=1)
    questions, answers_a, answers_b = ["Name the capital of Italy."], ["Rome."], ["Milan."]
    results = pairwise.judge(questions, answers_a, answers_b)
    assert len(results) == 1
    for r in results:
        assert {r.verdict_ab, r.verdict_ba} <= {"A", "B", "tie", UNPARSEABLE}
        assert (r.winner, r.consistent) == combine_orders(r.verdict_ab, r.verdict_ba)
        assert 1 <= r.attempts_ab <= 2 and 1 <= r.attempts_ba <= 2
        assert r.judgment_ab.strip() and r.judgment_ba.strip()
        assert r.signature.startswith(f"judge:pairwise|engine:{real_engine.fingerprint()}|")

    pointwise = PointwiseJudge(cached, params=params, retries=1)
    scores = pointwise.judge(questions, answers_a)
    for s in scores:
        assert (s.status == "ok") == (s.score is not None)
        assert s.score is None or 1 <= s.score <= 10
        assert s.rationale.strip() and 1 <= s.attempts <= 2

    misses = cached.misses
    assert [r.to_dict() for r in pairwise.judge(questions, answers_a, answers_b)] == [r.to_dict() for r in results]
    assert [dataclasses.asdict(s) for s in pointwise.judge(questions, answers_a)] == [
        dataclasses.asdict(s) for s in scores]
    assert cached.misses == misses  # nothing generated twice
