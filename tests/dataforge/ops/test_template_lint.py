"""template.lint and dataforge.chat_template on the real embedded SmolLM2 tokenizer."""

from __future__ import annotations

import json

import polars as pl
import pytest
from dataforge.errors import ConfigError

from dataforge import chat_template as ct
from dataforge.ops.chain import apply
from dataforge.ops.template_lint import TemplateLint
from dataforge.schemas import from_dicts
from dataforge.schemas import message as m

pytestmark = pytest.mark.slow

NO_SYSTEM = (
    "{% for message in messages %}{% if message['role'] == 'system' %}"
    "{{ raise_exception('System role not supported') }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{% endfor %}"
)
NO_EOS = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] }}"
    "{% if message['role'] != 'assistant' %}{{ '<|im_end|>' }}{% endif %}{{ '\\n' }}{% endfor %}"
)
# Markers around the content only: an empty assistant turn puts nothing under them.
CONTENT_ONLY = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['role'] == 'assistant' %}{% generation %}{{ message['content'] }}{% endgeneration %}"
    "{% else %}{{ message['content'] }}{% endif %}{{ '<|im_end|>\\n' }}{% endfor %}"
)
# A template that can express tools: lists them up front and renders tool calls as JSON.
WITH_TOOLS = (
    "{% if tools %}{{ '<|im_start|>system\\nTools: ' + (tools | tojson) + '<|im_end|>\\n' }}{% endif %}"
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] }}"
    "{% for call in message.tool_calls or [] %}{{ '<tool_call>' + (call.function | tojson) + '</tool_call>' }}{% endfor %}"
    "{{ '<|im_end|>\\n' }}{% endfor %}"
)
TOOLS = json.dumps([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}])
TOOL_CALL = [{"id": "c1", "name": "get_weather", "arguments": '{"city": "北京"}'}]


def _conv(*turns: tuple[str, str | None]) -> list[dict]:
    return [m(role, content) for role, content in turns]


def _clean() -> list[dict]:
    return [
        {"id": "en", "messages": _conv(("user", "What is the capital of France?"), ("assistant", "Paris."))},
        {"id": "zh", "messages": _conv(("system", "你是一个乐于助人的助手。"), ("user", "北京有多少人口？"), ("assistant", "大约两千一百万。"))},
    ]


def _reasons(result) -> dict[str, tuple[str, str | None, str]]:
    return {r["id"]: (r["reason"], r["field"], r["detail"]) for r in result.rejected.iter_rows(named=True)}


# -- chat_template: patching ------------------------------------------------------------------


def test_marker_detection_ignores_add_generation_prompt(smollm_tokenizer):
    template = smollm_tokenizer.chat_template
    assert "add_generation_prompt" in template
    assert not ct.has_generation_markers(template)
    assert ct.has_generation_markers(ct.patch_generation_markers(template))


def test_patched_smollm_template_is_identical_and_masks_exactly_the_assistant(smollm_tokenizer):
    original = smollm_tokenizer.chat_template
    patched = ct.patch_generation_markers(original)
    convs = [
        _conv(("user", "hi  "), ("assistant", "hello\n")),
        _conv(("system", "简洁回答。"), ("user", "你好"), ("assistant", "你好！"), ("user", "再见"), ("assistant", "再见。")),
    ]
    check = ct.verify_patch(smollm_tokenizer, original, patched, [ct.to_hf_conversation(c) for c in convs])
    assert check.ok and check.checked == 2
    out = smollm_tokenizer.apply_chat_template(
        [ct.to_hf_conversation(convs[1])], chat_template=patched, tokenize=True, return_dict=True,
        return_assistant_tokens_mask=True,
    )
    ids, mask = out["input_ids"][0], out["assistant_masks"][0]
    masked = smollm_tokenizer.decode([t for t, keep in zip(ids, mask) if keep])
    assert masked == "你好！<|im_end|>再见。<|im_end|>"


def test_patch_keeps_whitespace_control_and_trim_blocks(smollm_tokenizer):
    template = (
        "{% for message in messages %}\n"
        "    {{- '<|im_start|>' + message.role + '\\n' + message.content | trim + '<|im_end|>' + '\\n' -}}\n"
        "  {{ '' }}\n"
        "{% endfor %}"
    )
    patched = ct.patch_generation_markers(template)
    convs = [ct.to_hf_conversation(_conv(("user", " q "), ("assistant", " a ")))]
    assert ct.verify_patch(smollm_tokenizer, template, patched, convs).ok


def test_patch_is_idempotent_and_refuses_foreign_templates(smollm_tokenizer):
    patched = ct.patch_generation_markers(smollm_tokenizer.chat_template)
    assert ct.patch_generation_markers(patched) == patched
    with pytest.raises(ct.TemplatePatchError, match="generation"):
        ct.patch_generation_markers("{% for m in messages %}[{{ m.role }}] {{ m.content }}{% endfor %}")


def test_render_isolates_the_failing_conversation(smollm_tokenizer):
    convs = [ct.to_hf_conversation(c) for c in (_conv(("user", "a")), _conv(("system", "s"), ("user", "b")))]
    out = ct.render(smollm_tokenizer, convs, template=NO_SYSTEM)
    assert out.texts[0] == "<|im_start|>user\na<|im_end|>\n" and out.errors[0] is None
    assert out.texts[1] is None and "System role not supported" in out.errors[1]


def test_to_hf_conversation_rejects_bad_tool_arguments():
    good = ct.to_hf_conversation([m("assistant", None, tool_calls=TOOL_CALL)])
    assert good == [{"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "北京"}}, "id": "c1"}]}]
    with pytest.raises(ValueError, match=r"messages\[0\]\.tool_calls\[0\]\.arguments"):
        ct.to_hf_conversation([m("assistant", None, tool_calls=[{"id": "x", "name": "f", "arguments": "{city:"}])])


# -- the op ---------------------------------------------------------------------------------------


def test_clean_records_pass_and_missing_markers_are_reported_once():
    df = from_dicts(_clean() + [{"id": f"r{i}", "messages": _conv(("user", f"问题 {i}"), ("assistant", f"答案 {i}"))} for i in range(4)])
    result = apply([df.head(3), df.tail(3)], [TemplateLint()])
    assert result.kept["id"].to_list() == df["id"].to_list() and result.rejected.height == 0
    (stats,) = result.stats
    assert stats["template_has_generation_markers"] is False
    assert "set patch_template: true to use it" in stats["template_report"]
    assert "renders the 3 records of the first shard byte-identically" in stats["template_report"]
    assert ct.has_generation_markers(stats["patched_template"])
    assert stats["patch_mismatched"] == 0 and stats["patch_empty_mask"] == 0
    assert stats["records_measured"] == 6 == sum(stats["tokens_histogram"].values())


def test_special_token_smuggled_in_content():
    df = from_dicts(_clean() + [
        {"id": "im_end", "messages": _conv(("user", "say it"), ("assistant", "done<|im_end|><|im_start|>user\nmore"))},
        {"id": "added", "messages": _conv(("user", "文件名 <filename> 是什么"), ("assistant", "好"))},
        {"id": "pref", "messages": _conv(("user", "q")), "chosen": _conv(("assistant", "ok")),
         "rejected": _conv(("assistant", "bad <|endoftext|>"))},
    ])
    result = TemplateLint()(df)
    reasons = _reasons(result)
    assert result.kept["id"].to_list() == ["en", "zh"]
    assert reasons["im_end"][:2] == ("special_token_in_content", "messages[1].content")
    assert "<|im_end|>" in reasons["im_end"][2]
    assert reasons["added"][:2] == ("special_token_in_content", "messages[0].content")
    assert "<filename>" in reasons["added"][2]
    assert reasons["pref"][:2] == ("special_token_in_content", "rejected[0].content")


def test_template_render_error_names_the_exception():
    df = from_dicts(_clean())
    result = TemplateLint(chat_template=NO_SYSTEM)(df)
    assert result.kept["id"].to_list() == ["en"]
    reason, _, detail = _reasons(result)["zh"]
    assert reason == "template_render_error" and "System role not supported" in detail


def test_chat_template_from_file(tmp_path):
    path = tmp_path / "no_system.jinja"
    path.write_text(NO_SYSTEM, encoding="utf-8")
    result = TemplateLint(chat_template=str(path))(from_dicts(_clean()))
    assert _reasons(result)["zh"][0] == "template_render_error"


def test_missing_eos_after_assistant_turn():
    df = from_dicts(_clean())
    result = TemplateLint(chat_template=NO_EOS)(df)
    assert result.kept.height == 0
    assert _reasons(result)["en"][:2] == ("missing_eos", "messages[1].content")
    assert _reasons(result)["zh"][:2] == ("missing_eos", "messages[2].content")


def test_tools_the_template_cannot_express():
    tool_record = {
        "id": "tool",
        "tools": TOOLS,
        "messages": [m("user", "北京天气？"), m("assistant", None, tool_calls=TOOL_CALL),
                     m("tool", '{"temp": 21}', tool_call_id="c1"), m("assistant", "21度。")],
    }
    call_only = {"id": "call", "messages": [m("user", "weather?"), m("assistant", None, tool_calls=TOOL_CALL),
                                            m("tool", "sunny", tool_call_id="c1"), m("assistant", "Sunny.")]}
    df = from_dicts(_clean() + [tool_record, call_only])
    smollm = TemplateLint()(df)
    assert _reasons(smollm)["tool"][:2] == ("tools_not_rendered", "tools")
    assert _reasons(smollm)["call"][:2] == ("tools_not_rendered", "messages.tool_calls")
    assert "get_weather" in _reasons(smollm)["call"][2]
    capable = TemplateLint(chat_template=WITH_TOOLS)(df)
    assert capable.rejected.height == 0 and capable.kept.height == 4


def test_invalid_tools_json_and_tool_call_arguments():
    df = from_dicts(_clean() + [
        {"id": "tools", "tools": "[{'name': 'f'}]", "messages": _conv(("user", "q"), ("assistant", "a"))},
        {"id": "args", "messages": [m("user", "q"), m("assistant", None, tool_calls=[{"id": "1", "name": "f", "arguments": "{city: x}"}])]},
    ])
    reasons = _reasons(TemplateLint(chat_template=WITH_TOOLS)(df))
    assert reasons["tools"][:2] == ("invalid_tools_json", "tools")
    assert reasons["args"][:2] == ("invalid_tool_call_arguments", "messages[1].tool_calls[0].arguments")


def test_empty_assistant_mask_under_marked_template():
    df = from_dicts(_clean() + [{"id": "empty", "messages": _conv(("user", "q"), ("assistant", ""))}])
    result = TemplateLint(chat_template=CONTENT_ONLY)(df)
    assert result.kept["id"].to_list() == ["en", "zh"]
    assert _reasons(result)["empty"][0] == "empty_assistant_mask"
    assert result.stats["template_has_generation_markers"] is True


def test_patch_template_true_checks_masks_per_record():
    df = from_dicts(_clean() + [{"id": "prompt", "messages": _conv(("user", "only a prompt"))}])
    result = TemplateLint(patch_template=True)(df)
    assert result.rejected.height == 0  # a prompt-only record has no assistant turn to mask
    assert "The patched template (stats.patched_template) is in use" in result.stats["template_report"]
    assert result.stats["patch_checked"] == 3 and result.stats["patch_mismatched"] == 0


def _long_record() -> dict:
    return {"id": "long", "messages": _conv(
        ("user", "Tell me about Paris."), ("assistant", "Paris is the capital of France."),
        ("user", "And more?"), ("assistant", "巴黎有很多博物馆。" * 60),
    )}


@pytest.mark.parametrize("mode", ["drop", "truncate", "keep"])
def test_overflow_modes(mode, smollm_tokenizer):
    df = from_dicts(_clean() + [_long_record()])
    result = TemplateLint(max_seq_len=100, on_overflow=mode)(df)
    stats = result.stats
    assert stats["tokens_histogram"][">100"] == 1 and stats["tokens_max"] > 100
    if mode == "drop":
        reason, _, detail = _reasons(result)["long"]
        assert reason == "too_long" and f"{stats['tokens_max']} tokens > max_seq_len 100" in detail
        assert result.kept["id"].to_list() == ["en", "zh"]
    elif mode == "truncate":
        assert stats["truncated"] == 1 and stats["truncated_ids"] == ["long"]
        long = result.kept.filter(pl.col("id") == "long")["messages"].to_list()[0]
        assert [t["role"] for t in long] == ["user", "assistant"]
        ids = smollm_tokenizer.apply_chat_template(ct.to_hf_conversation(long), tokenize=True, return_dict=False)
        assert len(ids) <= 100
    else:
        assert stats["overflow_kept"] == 1 and result.kept.height == 3


def test_truncate_gives_up_on_preference_records():
    df = from_dicts([{"id": "pref", "messages": _conv(("user", "写一首诗。" * 80)),
                      "chosen": _conv(("assistant", "好")), "rejected": _conv(("assistant", "不"))}])
    result = TemplateLint(max_seq_len=64, on_overflow="truncate")(df)
    reason, _, detail = _reasons(result)["pref"]
    assert reason == "too_long" and "preference/KTO records are not truncated" in detail


def test_bad_config_is_refused():
    with pytest.raises(ConfigError):
        TemplateLint(on_overflow="chop")
    with pytest.raises(ConfigError):
        TemplateLint(max_seq_len=0)
