"""Small canonical training sets (Chinese and English) for the back-end tests, served by
the ``td`` fixture (``td.sft()``, ``td.pairs()``, ``td.kto()``, ``td.prompts()``,
``td.tool_record(i)``, ``td.write(df, path)``)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pytest

from dataforge.formats.api import write
from dataforge.schemas.record import from_dicts

QA = [
    ("感冒需要吃抗生素吗？", "普通感冒多由病毒引起，抗生素无效，多休息、多喝水即可。"),
    ("What is a normal resting heart rate?", "For adults, 60 to 100 beats per minute."),
    ("高血压患者饮食要注意什么？", "少盐少油，多吃蔬菜水果，控制体重并戒烟限酒。"),
    ("How much water should I drink a day?", "Roughly 1.5 to 2 litres for most adults."),
    ("发烧38度要去医院吗？", "成人38度可先休息补液观察，持续高热或精神差请就医。"),
    ("Can I take ibuprofen with food?", "Yes, taking it with food reduces stomach upset."),
]
REJECTED = ["不知道。", "No idea.", "随便吃。", "Never drink water.", "不用管。", "Only on Sundays."]

TOOLS = [{
    "type": "function",
    "function": {
        "name": "check_blood_pressure", "description": "Classify a blood pressure reading",
        "parameters": {"type": "object", "properties": {"systolic": {"type": "integer"},
                                                        "diastolic": {"type": "integer"}},
                       "required": ["systolic", "diastolic"]},
    },
}]


def tool_record(i: int) -> dict:
    """A tool-calling conversation: user, assistant tool call, tool result, assistant answer."""
    args = json.dumps({"systolic": 150 + i, "diastolic": 95})
    return {
        "id": f"tool-{i}",
        "messages": [
            {"role": "user", "content": f"我的血压是{150 + i}/95，正常吗？"},
            {"role": "assistant", "content": None,
             "tool_calls": [{"id": f"call-{i}", "name": "check_blood_pressure", "arguments": args}]},
            {"role": "tool", "content": '{"category": "stage 2 hypertension"}', "tool_call_id": f"call-{i}"},
            {"role": "assistant", "content": "这属于2级高血压，建议尽快就医。"},
        ],
        "tools": TOOLS,
    }


def sft_records() -> pl.DataFrame:
    rows = [
        {"id": f"qa-{i}", "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
        for i, (q, a) in enumerate(QA)
    ]
    return from_dicts(rows + [tool_record(0), tool_record(1)])


def pair_records() -> pl.DataFrame:
    return from_dicts([
        {"id": f"pair-{i}", "messages": [{"role": "user", "content": q}],
         "chosen": [{"role": "assistant", "content": a}], "rejected": [{"role": "assistant", "content": r}]}
        for i, ((q, a), r) in enumerate(zip(QA, REJECTED))
    ] + [
        {"id": "pair-sys", "messages": [{"role": "system", "content": "你是谨慎的药剂师。"},
                                        {"role": "user", "content": "布洛芬和对乙酰氨基酚能一起吃吗？"}],
         "chosen": [{"role": "assistant", "content": "可以交替使用，但请按说明书剂量。"}],
         "rejected": [{"role": "assistant", "content": "绝对不行。"}]},
        {"id": "pair-en", "messages": [{"role": "user", "content": "Is a heart rate of 45 bad?"}],
         "chosen": [{"role": "assistant", "content": "It can be normal for athletes; see a doctor if dizzy."}],
         "rejected": [{"role": "assistant", "content": "Yes, you will die soon."}]},
    ])


def kto_records() -> pl.DataFrame:
    """Labelled feedback plus two pairs (the back end unpairs those)."""
    labelled = [
        {"id": f"kto-{i}", "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}],
         "label": i % 2 == 0}
        for i, (q, a) in enumerate(QA)
    ]
    pairs = pair_records().head(2)
    return pl.concat([from_dicts(labelled), pairs], how="vertical")


MATH = [(3, 4), (5, 2), (6, 1), (2, 2), (8, 1), (4, 4), (7, 2), (1, 1)]


def prompt_records() -> pl.DataFrame:
    """A toy verifiable task: small sums, the reference answer in the final assistant turn."""
    return from_dicts([
        {"id": f"sum-{a}-{b}", "messages": [
            {"role": "user", "content": f"What is {a} + {b}? Reply with the number only."},
            {"role": "assistant", "content": str(a + b)},
        ]}
        for a, b in MATH
    ])


def write_parquet(df: pl.DataFrame, path: Path) -> Path:
    write(df, path, "canonical")
    return path


@pytest.fixture(scope="session")
def td() -> SimpleNamespace:
    return SimpleNamespace(sft=sft_records, pairs=pair_records, kto=kto_records, prompts=prompt_records,
                           tool_record=tool_record, write=write_parquet)
