"""The record filters: happy paths, edge cases, English and Chinese, reason codes and details."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from dataforge.errors import ConfigError

from dataforge.ops import make_op
from dataforge.ops.filters.length import LengthFilter
from dataforge.schemas import from_dicts, message as m

CALL = [{"id": "c1", "name": "get_weather", "arguments": '{"city": "北京"}'}]


def run(op: str, records: list[dict], **params):
    result = make_op(op, params)(from_dicts(records))
    assert result.kept.height + result.rejected.height == len(records)
    return result


def rejected(result) -> dict[str, tuple[str, str | None, str]]:
    return {r["id"]: (r["reason"], r["field"], r["detail"]) for r in result.rejected.to_dicts()}


def chat(id_: str, *turns: tuple[str, str | None], **extra) -> dict:
    return {"id": id_, "messages": [m(role, text) for role, text in turns], **extra}


# -- filter.length ------------------------------------------------------------------------------


def test_length_chars_per_turn_and_record():
    recs = [
        chat("ok", ("user", "hi"), ("assistant", "hello")),
        chat("long_turn", ("user", "q"), ("assistant", "答" * 30)),
        chat("long_record", ("user", "x" * 15), ("assistant", "y" * 15), ("user", "z" * 15), ("assistant", "w")),
        chat("pref", ("user", "q"), chosen=[m("assistant", "c" * 5)], rejected=[m("assistant", "r" * 19)]),
    ]
    result = run("filter.length", recs, max_turn=20, max_record=40)
    assert rejected(result) == {
        "long_turn": ("turn_too_long", "messages[1].content", "assistant turn 2 has 30 chars > 20"),
        "long_record": ("record_too_long", None, "messages has 46 chars > 40"),
    }
    tight = run("filter.length", recs, max_record=12)
    assert rejected(tight)["pref"] == ("record_too_long", None, "messages + rejected has 20 chars > 12")


def test_length_min_bounds_respect_tool_call_only_turns():
    recs = [
        {"id": "tool", "messages": [m("user", "天气"), m("assistant", None, tool_calls=CALL),
                                    m("tool", '{"c": 20}'), m("assistant", "20度")]},
        chat("short", ("user", "hi"), ("assistant", "k")),
    ]
    result = run("filter.length", recs, min_turn=2, roles=["assistant"])
    assert rejected(result) == {"short": ("turn_too_short", "messages[1].content", "assistant turn 2 has 1 chars < 2")}
    assert rejected(run("filter.length", recs, min_record=10))["short"][0] == "record_too_short"


@pytest.mark.slow
def test_length_in_tokens_of_the_embedded_model(smollm_tokenizer, smollm_path):
    answer = "The quick brown fox jumps over the lazy dog. " * 20
    recs = [chat("en", ("user", "Tell me"), ("assistant", answer)), chat("zh", ("user", "你好"), ("assistant", "你好！"))]
    expected = len(smollm_tokenizer(answer, add_special_tokens=False)["input_ids"])
    op = make_op("filter.length", {"unit": "tokens", "tokenizer": smollm_path, "max_turn": expected - 1})
    result = op(from_dicts(recs))
    assert rejected(result) == {
        "en": ("turn_too_long", "messages[1].content", f"assistant turn 2 has {expected} tokens > {expected - 1}")
    }
    op(from_dicts(recs))  # a second shard reuses the loaded tokenizer
    assert op._tokenizer is not None
    by_alias = make_op("filter.length", {"unit": "tokens", "max_turn": expected})(from_dicts(recs))
    assert by_alias.rejected.height == 0


def test_length_needs_a_bound_and_offers_example_params():
    with pytest.raises(ConfigError, match="at least one"):
        make_op("filter.length")
    assert make_op("filter.length", LengthFilter.example_params())(from_dicts([])).kept.height == 0


# -- filter.empty_turns -------------------------------------------------------------------------


def test_empty_turns():
    recs = [
        chat("ok", ("user", "q"), ("assistant", "a")),
        {"id": "tool_call_only", "messages": [m("user", "天气"), m("assistant", None, tool_calls=CALL),
                                              m("tool", "{}"), m("assistant", "晴")]},
        chat("blank", ("user", " \t\n"), ("assistant", "a")),
        chat("zero_width", ("user", "q"), ("assistant", "\u200b ")),
        chat("null", ("user", "q"), ("assistant", None)),
        chat("empty_zh", ("user", "问"), ("assistant", "")),
        {"id": "no_msgs", "messages": []},
        chat("pref", ("user", "q"), chosen=[], rejected=[m("assistant", "r")]),
    ]
    assert rejected(run("filter.empty_turns", recs)) == {
        "blank": ("empty_turn", "messages[0].content", "user turn 1 is whitespace-only"),
        "zero_width": ("empty_turn", "messages[1].content", "assistant turn 2 is whitespace-only"),
        "null": ("empty_turn", "messages[1].content", "assistant turn 2 has no content"),
        "empty_zh": ("empty_turn", "messages[1].content", "assistant turn 2 is empty"),
        "no_msgs": ("no_messages", "messages", "record has no messages"),
        "pref": ("empty_turn", "chosen", "chosen has no turns"),
    }
    only_assistant = run("filter.empty_turns", recs, roles=["assistant"])
    assert "blank" not in rejected(only_assistant)


# -- filter.role_order --------------------------------------------------------------------------


def test_role_order_accepts_valid_conversations():
    recs = [
        chat("plain", ("user", "q"), ("assistant", "a")),
        chat("system", ("system", "s"), ("user", "q"), ("assistant", "a"), ("user", "q2"), ("assistant", "a2")),
        {"id": "tools", "messages": [m("user", "q"), m("assistant", None, tool_calls=CALL), m("tool", "r1"),
                                     m("tool", "r2"), m("assistant", None, tool_calls=CALL), m("tool", "r3"),
                                     m("assistant", "done")]},
        {"id": "ends_in_call", "messages": [m("user", "q"), m("assistant", None, tool_calls=CALL)]},
        chat("pref", ("user", "q"), chosen=[m("assistant", "c")], rejected=[m("assistant", "r")]),
    ]
    assert run("filter.role_order", recs).rejected.height == 0


def test_role_order_diagnoses():
    recs = [
        chat("two_users", ("user", "a"), ("user", "b"), ("assistant", "c")),
        chat("late_system", ("user", "a"), ("system", "s"), ("assistant", "c")),
        chat("starts_assistant", ("assistant", "hi"), ("user", "a"), ("assistant", "b")),
        chat("orphan_tool", ("user", "a"), ("tool", "r"), ("assistant", "b")),
        chat("two_assistants", ("user", "a"), ("assistant", "b"), ("assistant", "c")),
        {"id": "unanswered_call", "messages": [m("user", "q"), m("assistant", None, tool_calls=CALL),
                                               m("assistant", "a")]},
        chat("no_answer", ("user", "q")),
        chat("bad_role", ("user", "q"), ("robot", "a")),
        chat("pref_bad", ("user", "q"), chosen=[m("assistant", "c")], rejected=[m("user", "r")]),
        chat("用户", ("system", "你是助手"), ("user", "你好"), ("assistant", "你好！")),
    ]
    got = {k: v[2] for k, v in rejected(run("filter.role_order", recs)).items()}
    assert got == {
        "two_users": "roles 'uua': two user turns in a row",
        "late_system": "roles 'usa': system turn not first",
        "starts_assistant": "roles 'aua': does not start with a user turn",
        "orphan_tool": "roles 'uta': tool result without a tool call before it",
        "two_assistants": "roles 'uaa': two assistant turns in a row",
        "unanswered_call": "roles 'uca': tool call without a tool result",
        "no_answer": "roles 'u': does not end with an assistant turn",
        "bad_role": "roles 'u?': unknown role",
        "pref_bad": "roles 'uu': two user turns in a row",
    }
    assert rejected(run("filter.role_order", recs))["pref_bad"][1] == "messages+rejected"
    prompts_ok = rejected(run("filter.role_order", recs, require_final_assistant=False))
    assert "no_answer" not in prompts_ok and "pref_bad" in prompts_ok


# -- filter.repetition --------------------------------------------------------------------------


def test_repetition_en_and_zh():
    natural = ("Photosynthesis converts light energy into chemical energy. Plants absorb carbon dioxide "
               "and water, and with sunlight they produce glucose and oxygen in their chloroplasts.")
    recs = [
        chat("natural", ("user", "explain"), ("assistant", natural)),
        chat("loop_en", ("user", "q"), ("assistant", "I will help you with that task now. " * 12)),
        chat("loop_zh", ("user", "问"), ("assistant", "我是一个人工智能助手，很高兴为您服务。" * 8)),
        chat("zh_ok", ("user", "问"), ("assistant", "光合作用是植物利用光能，把二氧化碳和水转化为葡萄糖并释放氧气的过程。")),
        chat("bad_rejected", ("user", "q"), chosen=[m("assistant", natural)],
             rejected=[m("assistant", "no no no no no " * 20)]),
        chat("short", ("user", "q"), ("assistant", "ok ok ok")),
    ]
    got = rejected(run("filter.repetition", recs))
    assert set(got) == {"loop_en", "loop_zh"}
    assert got["loop_zh"][2].startswith("assistant turn 2: ")
    assert "15-character n-grams repeat (> 50.0%)" in got["loop_zh"][2]
    assert "10-word n-grams" in got["loop_en"][2]
    assert "bad_rejected" in rejected(run("filter.repetition", recs, columns=["rejected"]))


# -- filter.language ----------------------------------------------------------------------------


def test_language_scripts():
    recs = [
        chat("en", ("user", "What is the capital of France?"), ("assistant", "Paris.")),
        chat("zh", ("user", "法国的首都是哪里？"), ("assistant", "巴黎。")),
        chat("zh_code", ("user", "用Python写快速排序"),
             ("assistant", "代码如下：\n```python\ndef quicksort(items):\n    if len(items) < 2:\n        return items\n"
                           "    pivot, rest = items[0], items[1:]\n    left = [x for x in rest if x < pivot]\n"
                           "    return quicksort(left) + [pivot] + quicksort([x for x in rest if x >= pivot])\n```")),
        chat("ja", ("user", "フランスの首都はどこですか？"), ("assistant", "パリです。")),
        chat("ru", ("user", "Какая столица Франции?"), ("assistant", "Париж.")),
        chat("digits", ("user", "1+1=?"), ("assistant", "2")),
    ]
    got = rejected(run("filter.language", recs))
    assert set(got) == {"ja", "ru"}
    assert got["ru"][0] == "language" and "other 100.0%" in got["ru"][2] and "want zh or en" in got["ru"][2]
    assert set(rejected(run("filter.language", recs, lang="zh"))) == {"en", "ja", "ru"}
    assert set(rejected(run("filter.language", recs, lang=["en"]))) == {"zh", "zh_code", "ja", "ru"}
    assert "zh_code" in rejected(run("filter.language", recs, lang="zh", ignore_code=False))
    anything = run("filter.language", recs, lang="any")
    assert anything.rejected.height == 0 and anything.stats["dominant_script"]["other"] == 1
    assert set(rejected(run("filter.language", recs, lang="en", text="prompt", min_ratio=0.9))) == {
        "zh", "zh_code", "ja", "ru"}
    with pytest.raises(ConfigError):
        make_op("filter.language", {"lang": "fr"})


# -- filter.placeholders ------------------------------------------------------------------------


def test_placeholders_defaults_en_and_zh():
    recs = [
        chat("mustache", ("user", "Write to {{ customer_name }} about the order."), ("assistant", "Sure.")),
        chat("insert", ("user", "Draft a letter"), ("assistant", "Dear [Insert Name],\nThanks.")),
        chat("angle", ("user", "How do I call it?"), ("assistant", "Set the key to <YOUR_API_KEY> first.")),
        chat("zh", ("user", "写一封信"), ("assistant", "尊敬的【您的姓名】：您好！")),
        chat("zh_mustache", ("user", "给{{姓名}}写祝福"), ("assistant", "好的")),
        chat("link", ("user", "where?"), ("assistant", "See [Your account](https://example.com/me).")),
        chat("code", ("user", "jinja?"), ("assistant", "Use `{{ name }}` or:\n```\n<p>{{ name }}</p>\n```")),
        chat("json", ("user", "json"), ("assistant", '{"name": {"first": "A"}, "list": [1, 2]}')),
        chat("latex", ("user", "math"), ("assistant", r"$\frac{a}{b} + x^{2}$")),
        chat("checkbox", ("user", "todo"), ("assistant", "- [ ] buy milk\n- [x] call mom")),
    ]
    got = rejected(run("filter.placeholders", recs))
    assert set(got) == {"mustache", "insert", "angle", "zh", "zh_mustache"}
    assert got["insert"] == (
        "placeholder", "messages[1].content", "assistant turn 2 has leftover placeholder '[Insert Name]'"
    )
    assert got["zh"][2] == "assistant turn 2 has leftover placeholder '【您的姓名】'"
    assert "code" in rejected(run("filter.placeholders", recs, ignore_code=False))
    braces = run("filter.placeholders", [chat("f", ("user", "Hello {name}!"), ("assistant", "Hi"))],
                 patterns=["format_brace"])
    assert braces.rejected.height == 1
    custom = run("filter.placeholders", recs, patterns=[r"\bXXX\b"])
    assert custom.rejected.height == 0
    with pytest.raises(ConfigError, match="not a valid regex"):
        make_op("filter.placeholders", {"patterns": ["(unclosed"]})


# -- every filter: shared edge cases --------------------------------------------------------------

FILTERS = {
    "filter.length": {"max_turn": 50, "min_record": 1},
    "filter.empty_turns": {},
    "filter.role_order": {},
    "filter.repetition": {},
    "filter.language": {},
    "filter.placeholders": {},
}


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_empty_table(name):
    result = make_op(name, FILTERS[name])(from_dicts([]))
    assert result.kept.height == 0 and result.rejected.height == 0


_turn = st.tuples(
    st.sampled_from(["system", "user", "assistant", "tool", "bot"]),
    st.one_of(st.none(), st.sampled_from(["", " ", "hi", "你好", "{{x}}", "ok " * 30, "重复" * 40])),
)
_record = st.fixed_dictionaries({
    "messages": st.lists(_turn, max_size=5),
    "chosen": st.one_of(st.none(), st.lists(_turn, max_size=2)),
})


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_record, max_size=8), st.sampled_from(sorted(FILTERS)))
def test_rows_in_equal_kept_plus_rejected(records, name):
    table = from_dicts(
        {"messages": [m(r, t) for r, t in rec["messages"]],
         "chosen": None if rec["chosen"] is None else [m(r, t) for r, t in rec["chosen"]]}
        for rec in records
    )
    result = make_op(name, FILTERS[name])(table)
    assert result.kept.height + result.rejected.height == table.height
    assert result.kept.schema == table.schema
    assert result.rejected["reason"].null_count() == 0 and result.rejected["detail"].null_count() == 0
    assert sorted(result.kept["id"].to_list() + result.rejected["id"].to_list()) == sorted(table["id"].to_list())
