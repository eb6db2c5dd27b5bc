"""fill: template slots replaced in every message list (messages, chosen, rejected), English
and Chinese values; never rejects, counts the turns it changed."""

from __future__ import annotations

import pytest

from dataforge.errors import ConfigError
from dataforge.ops import make_op
from dataforge.schemas import from_dicts, message


def test_slots_are_filled_in_prompts_and_both_preference_sides():
    records = from_dicts([
        {"messages": [message("user", "Who are you?"), message("assistant", "I am [[NAME]], made by [[AUTHOR]].")]},
        {"messages": [message("user", "你是谁？")],
         "chosen": [message("assistant", "我是[[NAME]]，由[[AUTHOR]]开发。")],
         "rejected": [message("assistant", "I am SmolLM.")]},
        {"messages": [message("user", "Hi"), message("assistant", "Hello!")]},
    ])
    result = make_op("fill", {"values": {"[[NAME]]": "小智 Xiaozhi", "[[AUTHOR]]": "Acme"}})(records)
    assert result.kept.height == 3 and result.rejected.height == 0
    assert result.kept["messages"][0][1]["content"] == "I am 小智 Xiaozhi, made by Acme."
    assert result.kept["chosen"][1][0]["content"] == "我是小智 Xiaozhi，由Acme开发。"
    assert result.kept["rejected"][1][0]["content"] == "I am SmolLM."
    assert result.kept["chosen"][0] is None  # a null list stays null
    assert result.stats["turns_filled"] == 2


def test_values_are_literal_text_not_patterns():
    records = from_dicts([{"messages": [message("user", "a.b [[X]] a.b"), message("assistant", "$1")]}])
    out = make_op("fill", {"values": {"a.b": "$1", "[[X]]": "\\n"}})(records).kept
    assert out["messages"][0][0]["content"] == "$1 \\n $1"


def test_a_slot_is_required():
    with pytest.raises(ConfigError, match="give at least one slot"):
        make_op("fill", {"values": {}})
