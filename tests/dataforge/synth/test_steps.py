"""Synthesis steps: distill, best_of_k, judge_filter, augment.

The step logic (what is kept, rejected and why, pairs, labels, lineage) is tested through
the real ``openai`` engine against :class:`ScriptedServer`, a real local HTTP server whose
replies are chosen per request (a seed-dependent answer, a judge verdict, a failure), so
each rule is exercised deterministically. The last tests run the steps on the real
embedded model behind llama.cpp's server and load the outputs with the TRL and
LLaMA-Factory exports.
"""

from __future__ import annotations

import json

import polars as pl
import pytest

from dataforge.formats.api import to_trl_dataset, write
from dataforge.schemas import from_dicts, message
from dataforge.synth.engines import make_engine
from dataforge.synth.pipeline import Engines, SynthSection, run_steps
from dataforge.synth.steps import augment, best_of_k, distill, judge_filter
from http_servers import ScriptedServer, completion, last_user

FAST = {"backoff_s": 0.01, "backoff_max_s": 0.05, "max_retries": 1}


def records(*convs, meta=None):
    return from_dicts([{"messages": c, "meta": meta} for c in convs])


def lineage(record_meta: str) -> list[dict]:
    return json.loads(record_meta)["synth"]


def invariant(result, rows_in):
    assert result.kept.height + result.rejected.height == rows_in == result.stats["rows_in"]


# -- distill --------------------------------------------------------------------------------


def test_distill_adds_or_replaces_the_answer_and_rejects_with_reasons():
    def rule(body):
        text = last_user(body)
        if text == "explode":
            return "500"
        if text == "ramble":
            return completion("and so on and so on", finish_reason="length")
        return None

    data = records(
        [message("user", "What is 2+3?")],
        [message("user", "Capital of France?"), message("assistant", "old answer")],
        [message("system", "only a system turn")],
        [message("user", "explode")],
        [message("user", "ramble")],
        meta={"origin": "seed-set"},
    )
    with ScriptedServer(rule=rule) as server, make_engine("openai", None, base_url=server.url, **FAST) as engine:
        result = distill(data, engine, {"generation": {"max_new_tokens": 8}, "system_prompt": "Be brief."},
                         progress=False)
        kept_truncated = distill(data[4:], engine, {"keep_truncated": True}, progress=False)
    invariant(result, 5)
    answers = {m[0]["content"]: m[-1]["content"] for m in result.kept["messages"].to_list()}
    assert answers == {"What is 2+3?": "echo: What is 2+3?", "Capital of France?": "echo: Capital of France?"}
    assert all(len(m) == 2 for m in result.kept["messages"].to_list())  # replaced, not appended; no system
    assert server.bodies[0]["messages"][0] == {"role": "system", "content": "Be brief."}
    reasons = dict(zip(result.rejected["reason"], result.rejected["detail"]))
    assert set(reasons) == {"no_prompt", "generation_error", "truncated"}
    assert "HTTP 500" in reasons["generation_error"]
    meta = json.loads(result.kept["meta"][0])
    assert meta["origin"] == "seed-set"
    (entry,) = meta["synth"]
    assert entry["step"] == "distill" and entry["engine"] == "openai:scripted-model"
    assert entry["model"] == "scripted-model" and entry["params"]["max_new_tokens"] == 8
    assert entry["sample"] == 0 and entry["seed"] == 0 and entry["finish_reason"] == "stop"
    assert lineage(kept_truncated.kept["meta"][0])[0]["finish_reason"] == "length"


# -- best of K ----------------------------------------------------------------------------------


def seeded_answer(body):
    """A different, repeatable answer per sample seed: '#### <seed mod 4>' plus padding."""
    seed = body["seed"]
    return "#### " + str(seed % 4) + " " + "x" * (seed % 5)


def test_best_of_k_keeps_the_best_and_writes_pairs_and_labels():
    data = records(
        [message("user", "What is 1+1?"), message("assistant", "#### 2")],
        [message("user", "What is 2+1?"), message("assistant", "#### 3")],
        [message("user", "Tell me a story.")],   # no reference: math_answer does not apply
        [message("assistant", "no prompt at all")],
    )
    config = {"k": 4, "generation": {"max_new_tokens": 8, "temperature": 1.0, "seed": 1},
              "scorers": {"math_answer": 2.0, "length": {"weight": 1.0, "max_chars": 6, "slack": 2.0}},
              "kto_threshold": 0.7}
    with ScriptedServer(reply=seeded_answer) as server, \
            make_engine("openai", None, base_url=server.url, **FAST) as engine:
        result = best_of_k(data, engine, config, progress=False)
    invariant(result, 4)
    assert dict(zip(result.rejected["reason"], result.rejected["stage"])) == {"no_prompt": "synth.best_of_k"}
    sft, dpo, kto = result.kept, result.outputs["dpo"], result.outputs["kto"]
    assert sft.height == 3
    for row in sft.iter_rows(named=True):
        entry = lineage(row["meta"])[0]
        assert entry["step"] == "best_of_k" and entry["scores"]["total"] is not None
        assert set(entry["scorers"]) == {"math_answer", "length"} and entry["weights"] == {"math_answer": 2.0, "length": 1.0}
        assert row["messages"][-1]["role"] == "assistant"
        ranked = [json.loads(m)["synth"][0] for m in kto.filter(pl.col("id").str.starts_with(row["id"]))["meta"]]
        assert entry["scores"]["total"] == max(e["scores"]["total"] for e in ranked)  # the best sample
        parts = entry["scores"]
        if parts["math_answer"] is not None:  # weighted mean of the applicable scorers
            assert parts["total"] == pytest.approx((2 * parts["math_answer"] + parts["length"]) / 3)
    for row in dpo.iter_rows(named=True):
        entry = lineage(row["meta"])[0]
        assert entry["chosen"]["scores"]["total"] > entry["rejected"]["scores"]["total"]
        assert row["chosen"][0]["content"] != row["rejected"][0]["content"]
        assert row["messages"][-1]["role"] == "user"
    for row in kto.iter_rows(named=True):
        assert row["label"] == (lineage(row["meta"])[0]["scores"]["total"] >= 0.7)
    assert dpo.height >= 1 and kto["label"].n_unique() == 2


def test_best_of_k_skips_ties_and_honours_margin_min_score_and_unscored():
    data = records([message("user", "What is 1+1?"), message("assistant", "#### 2")],
                   [message("user", "Say anything.")])
    tie = {"k": 3, "generation": {"max_new_tokens": 8, "temperature": 1.0}, "scorers": {"length": 1.0}}
    with ScriptedServer(reply=seeded_answer) as server, \
            make_engine("openai", None, base_url=server.url, **FAST) as engine:
        tied = best_of_k(data, engine, tie, progress=False)  # every sample scores 1.0
        every_pair = best_of_k(data, engine, {**tie, "pairs": "all", "margin": 0.1,
                                              "scorers": {"length": {"max_chars": 6, "slack": 3.0}}}, progress=False)
        strict = best_of_k(data, engine, {**tie, "min_score": 1.0, "scorers": {"math_answer": 1.0}}, progress=False)
    assert tied.outputs["dpo"].height == 0 and tied.kept.height == 2
    for row in every_pair.outputs["dpo"].iter_rows(named=True):
        entry = lineage(row["meta"])[0]
        assert entry["chosen"]["scores"]["total"] - entry["rejected"]["scores"]["total"] > 0.1
    reasons = dict(zip(strict.rejected["id"], strict.rejected["reason"]))
    assert reasons[data["id"][1]] == "unscored"  # no reference: math_answer does not apply
    invariant(strict, 2)


def test_best_of_k_sets_failed_samples_aside_and_rejects_a_prompt_with_none_left():
    rule = lambda body: "500" if last_user(body) == "broken" else None  # noqa: E731
    data = records([message("user", "broken")], [message("user", "fine")])
    config = {"k": 2, "generation": {"max_new_tokens": 8, "temperature": 1.0}, "scorers": {"length": 1.0}}
    with ScriptedServer(rule=rule, reply=seeded_answer) as server, \
            make_engine("openai", None, base_url=server.url, **FAST) as engine:
        result = best_of_k(data, engine, config, progress=False)
    invariant(result, 2)
    assert result.rejected["reason"].to_list() == ["generation_error"]
    assert "HTTP 500" in result.rejected["detail"][0]


# -- judge filter -------------------------------------------------------------------------------


def judge_reply(body):
    prompt = last_user(body)
    if "GOOD" in prompt:
        return "Clear and correct.\nRating: [[8]]"
    if "BAD" in prompt:
        return "Wrong.\nRating: [[2]]"
    return "I cannot decide."


def test_judge_filter_keeps_scores_over_the_threshold_and_explains_the_rest():
    data = records([message("user", "Q1"), message("assistant", "GOOD answer")],
                   [message("user", "Q2"), message("assistant", "BAD answer")],
                   [message("user", "Q3"), message("assistant", "vague")],
                   [message("user", "Q4 without answer")])
    with ScriptedServer(reply=judge_reply) as server, make_engine("openai", None, base_url=server.url) as engine:
        result = judge_filter(data, engine, {"threshold": 6, "retries": 0}, progress=False)
    invariant(result, 4)
    assert result.kept["id"].to_list() == [data["id"][0]]
    entry = lineage(result.kept["meta"][0])[0]
    assert entry["score"] == 8 and "Clear and correct" in entry["rationale"] and entry["judge"].startswith("judge:pointwise")
    reasons = dict(zip(result.rejected["id"], zip(result.rejected["reason"], result.rejected["detail"])))
    assert reasons[data["id"][1]][0] == "below_threshold" and "score 2/10" in reasons[data["id"][1]][1]
    assert "Wrong." in reasons[data["id"][1]][1]
    assert reasons[data["id"][2]] == ("judge_unparseable", "no score after 1 attempt(s); judge said: I cannot decide.")
    assert reasons[data["id"][3]][0] == "no_answer"


# -- augment --------------------------------------------------------------------------------


def rewrite(body):
    prompt = last_user(body)
    if "Translate" in prompt:
        # en -> zh comes back labelled (the label is cleaned off); zh -> en comes back in Chinese
        return "Translation: 北京有什么好吃的？" if "food" in prompt else "北京好玩的地方很多。"
    if "Rewrite the user request" in prompt:
        if "copy me" in prompt:
            return "copy me exactly as it is please thanks"
        return '"Which dishes should a visitor to Beijing try first?"'
    if "next message" in prompt:
        return "Can you tell me more about the second one?"
    return "Explain, step by step, why " + prompt[-30:]


def test_augment_paraphrase_cleans_rewrites_and_drops_near_copies_of_originals():
    data = records([message("user", "What should I eat in Beijing?")],
                   [message("user", "copy me exactly as it is please thanks")],
                   [message("system", "nothing to rewrite")])
    with ScriptedServer(reply=rewrite) as server, make_engine("openai", None, base_url=server.url) as engine:
        result = augment(data, engine, {"mode": "paraphrase"}, progress=False)
        both = augment(data, engine, {"mode": "paraphrase", "keep_originals": True}, progress=False)
    invariant(result, 3)
    assert result.kept["messages"].to_list()[0][-1]["content"] == "Which dishes should a visitor to Beijing try first?"
    assert result.kept["id"][0] == f"{data['id'][0]}:paraphrase:0"
    entry = lineage(result.kept["meta"][0])[0]
    assert entry["mode"] == "paraphrase" and entry["source_id"] == data["id"][0]
    reasons = dict(zip(result.rejected["reason"], result.rejected["duplicate_of"]))
    assert set(reasons) == {"near_duplicate", "no_prompt"}
    assert data["id"][1] in result.rejected.filter(pl.col("reason") == "near_duplicate")["detail"][0]
    invariant(both, 6)
    assert both.kept.height == 4


def test_augment_translate_checks_the_language_and_multi_turn_extends():
    data = records([message("user", "What food is good in Beijing?"), message("assistant", "Peking duck.")],
                   [message("user", "北京有什么好玩的？")],
                   [message("user", "no answer yet")])
    with ScriptedServer(reply=rewrite) as server, make_engine("openai", None, base_url=server.url) as engine:
        translated = augment(data[:2], engine, {"mode": "translate"}, progress=False)
        followed = augment(data, engine, {"mode": "multi_turn"}, progress=False)
        evolved = augment(data[:1], engine, {"mode": "evolve", "variants": 2,
                                             "evolve_methods": ["deepen", "reasoning"]}, progress=False)
    invariant(translated, 2)
    assert translated.kept["messages"].to_list()[0] == [
        {"role": "user", "content": "北京有什么好吃的？", "name": None, "tool_calls": None, "tool_call_id": None}]
    assert translated.rejected["reason"].to_list() == ["wrong_language"]
    assert "English" in translated.rejected["detail"][0]
    invariant(followed, 3)
    convo = followed.kept["messages"].to_list()[0]
    assert [m["role"] for m in convo] == ["user", "assistant", "user"] and convo[1]["content"] == "Peking duck."
    assert sorted(followed.rejected["reason"].to_list()) == ["no_answer_to_follow", "no_answer_to_follow"]
    invariant(evolved, 2)
    assert {lineage(m)[0]["method"] for m in evolved.kept["meta"]} <= {"deepen", "reasoning"}


# -- the pipeline on the real model ----------------------------------------------------------------


@pytest.mark.slow
def test_distill_then_best_of_k_on_the_real_model_feeds_trl_and_llamafactory(llama_server, tmp_path):
    """Real generation (embedded model behind llama.cpp's server), scored by a rule
    verifier and the judge (same model), exported with the landed TRL and LLaMA-Factory
    writers."""
    data = records([message("user", "Name a fruit.")], [message("user", "用一句话介绍上海。")])
    section = SynthSection.model_validate({
        "engine": {"kind": "openai", "options": {"base_url": llama_server.url}},
        "cache": False,
        "steps": [
            {"step": "distill", "generation": {"max_new_tokens": 12}},
            {"step": "best_of_k", "k": 3, "generation": {"max_new_tokens": 12, "temperature": 1.0},
             "keep_truncated": True,
             "scorers": {"length": {"max_chars": 10, "slack": 5.0}, "judge": {"weight": 0.5, "max_new_tokens": 24,
                                                                              "retries": 0}}},
        ],
    })
    with Engines(section.engine) as engines:
        result = run_steps(data, section.steps, engines, progress=False)
    distilled, best = result.steps
    invariant(distilled, 2)
    invariant(best, distilled.kept.height)
    entry = lineage(best.kept["meta"][0])[-1]
    assert entry["engine"] == f"openai:{llama_server.model_id}" and "judge" in entry["scores"]
    assert "judge_rationale" in entry["score_details"]
    sft, kto = result.kept, result.outputs["kto"]
    assert to_trl_dataset(sft, "sft").num_rows == sft.height
    assert to_trl_dataset(kto, "kto").num_rows == kto.height
    if result.outputs["dpo"].height:
        assert to_trl_dataset(result.outputs["dpo"], "dpo").num_rows == result.outputs["dpo"].height
    write(result.outputs["kto"], tmp_path / "lf", "llamafactory", name="kto")
    info = json.loads((tmp_path / "lf" / "dataset_info.json").read_text())
    assert info["kto"]["columns"]["kto_tag"] == "kto_tag"
