"""TRL exports carry tool-call arguments as objects, so Qwen-style templates (which apply
``tojson`` to them) render them once, not as an escaped string; template.lint flags
a rendering that holds JSON encoded twice."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

import dataforge
from dataforge.formats.api import to_trl_dataset
from dataforge.schemas.record import from_dicts, message

REPO = Path(__file__).resolve().parents[3]
TOOLS_FILE = REPO / "recipes" / "data" / "sharegpt_tools.jsonl"

#: the tool-call part of Qwen2.5's chat template, as published (arguments | tojson)
QWEN_STYLE = (
    "{%- for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}"
    "{%- if m.tool_calls %}{%- for tc in m.tool_calls %}"
    "{%- if tc.function is defined %}{%- set tc = tc.function %}{%- endif %}"
    '\n<tool_call>\n{"name": "{{ tc.name }}", "arguments": {{ tc.arguments | tojson }}}\n</tool_call>'
    "{%- endfor %}{%- endif %}<|im_end|>\n{% endfor %}"
)


def test_sft_export_gives_arguments_as_objects_that_render_once(smollm_tokenizer):
    ds = to_trl_dataset(dataforge.read(TOOLS_FILE), "sft")
    calls = [c for row in ds for m in row["messages"] for c in (m.get("tool_calls") or [])]
    assert calls and all(isinstance(c["function"]["arguments"], dict) for c in calls)
    assert calls[0]["function"]["arguments"] == {"systolic": 150, "diastolic": 95}
    row = ds[0]
    text = smollm_tokenizer.apply_chat_template(row["messages"], tools=json.loads(row["tools"]),
                                                chat_template=QWEN_STYLE, tokenize=False)
    assert '"arguments": {"systolic": 150, "diastolic": 95}' in text
    assert '\\"' not in text


def test_export_survives_a_parquet_round_trip_with_objects(tmp_path: Path):
    import datasets

    ds = to_trl_dataset(dataforge.read(TOOLS_FILE), "sft")
    ds.to_parquet(tmp_path / "sft.parquet")
    back = datasets.load_dataset("parquet", data_files=str(tmp_path / "sft.parquet"))["train"]
    assert back[0]["messages"] == ds[0]["messages"]


def _record(arguments: str) -> dict:
    call = {"id": "c1", "name": "get_bp", "arguments": arguments}
    return {
        "messages": [message("user", "血压?"), {"role": "assistant", "content": None, "tool_calls": [call]},
                     {"role": "tool", "content": "{\"ok\": true}", "tool_call_id": "c1"},
                     message("assistant", "正常。")],
        "tools": json.dumps([{"type": "function", "function": {"name": "get_bp", "parameters": {"type": "object"}}}]),
    }


@pytest.mark.slow
def test_template_lint_flags_arguments_encoded_twice(smollm_path):
    once = json.dumps({"systolic": 150})
    twice = json.dumps(once)  # JSON text of JSON text: a common scraping accident
    table = from_dicts([_record(once), _record(twice)])
    result = dataforge.apply(table, [{"op": "template.lint", "model": smollm_path, "chat_template": QWEN_STYLE,
                                      "eos_token": "<|im_end|>"}])
    reasons = result.rejected.select("reason", "field").rows()
    assert reasons == [("double_encoded_json", "messages.tool_calls")]
    assert result.kept.height == 1
    kept_args = result.kept["messages"][0][1]["tool_calls"][0]["arguments"]
    assert kept_args == once
    assert "encoded twice" in result.rejected["detail"][0]
    assert result.rejected.filter(pl.col("reason") == "double_encoded_json").height == 1
