"""The task recipes' sample data (recipes/data/<recipe>/, written by recipes/data/make_samples.py).

The files are small but messy on purpose; the recipes and their tests rely on exactly what
was planted. These tests pin it down with real components and no model: the files equal
the generator's output, the recipes' cleaning chain (real readers, filters, datasketch
dedup, presidio-based PII masking) rejects exactly the planted rows for the planted
reasons and masks exactly the planted PII, the identity template slots survive cleaning,
every math reference parses with the ``math_answer`` verifier's parser, every tool-call
reference is a valid call of its declared tools, and the eval sets are clean and held out.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import polars as pl
import pytest

from dataforge.formats.api import iter_load, read
from dataforge.ops.chain import ChainResult, apply
from dataforge.synth.inputs import load_prompts
from dataforge.verifiers.answers import final_answer, same_answer
from dataforge.verifiers.tool_call import ToolCallVerifier
from evalkit.run import read_eval_set

DATA = Path(__file__).resolve().parents[2] / "recipes" / "data"

#: path -> (rows in, rows kept, rejected rows per reason) after make_samples.CHAIN
EXPECTED = {
    "ecommerce_cs/train.jsonl": (55, 46, {"invalid_json": 1, "role_order": 2, "placeholder": 2,
                                          "exact_duplicate": 2, "near_duplicate": 2}),
    "ecommerce_cs/feedback_kto.jsonl": (13, 12, {"exact_duplicate": 1}),
    "math_grpo/train.jsonl": (54, 48, {"invalid_json": 1, "empty_turn": 1, "placeholder": 1,
                                       "exact_duplicate": 2, "near_duplicate": 1}),
    "toolcall_sft/train_openai.jsonl": (25, 21, {"invalid_json": 1, "invalid_tool_arguments": 1, "role_order": 1,
                                                 "exact_duplicate": 1}),
    "toolcall_sft/train_sharegpt.jsonl": (24, 19, {"invalid_json": 1, "invalid_tool_call": 1, "role_order": 1,
                                                   "placeholder": 1, "near_duplicate": 1}),
    "identity_dpo/sft.json": (35, 31, {"empty_turn": 1, "placeholder": 1, "exact_duplicate": 1,
                                       "near_duplicate": 1}),
    "identity_dpo/dpo.jsonl": (22, 18, {"invalid_json": 1, "role_order": 1, "placeholder": 1,
                                        "exact_duplicate": 1}),
    "continual_replay/finance_train.jsonl": (43, 38, {"invalid_json": 1, "role_order": 1, "placeholder": 1,
                                                      "exact_duplicate": 1, "near_duplicate": 1}),
}

#: path -> PII entities pii.mask finds (nothing else in these files may look like PII:
#: order ids, prices, dates and confirmation numbers must survive)
EXPECTED_PII = {
    "ecommerce_cs/train.jsonl": {"EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1, "CN_MOBILE": 1, "CN_ID_CARD": 1},
    "toolcall_sft/train_openai.jsonl": {"CN_MOBILE": 2},  # the user turn and the call's "phone" argument
    "identity_dpo/sft.json": {"EMAIL_ADDRESS": 1},
    "continual_replay/finance_train.jsonl": {"CREDIT_CARD": 1, "EMAIL_ADDRESS": 1, "CN_BANK_CARD": 1, "CN_MOBILE": 1},
}
PLANTED_PII_VALUES = [
    "maria.lopez@example.com", "(415) 555-0142", "13912345678", "440305199003071236", "13812345678",
    "lilei@example.com", "4111 1111 1111 1111", "tom.baker@example.org", "6228480012345678903", "13700001234",
]

EVAL_FILES = [
    "general_eval.jsonl", "ecommerce_cs/eval.jsonl", "math_grpo/eval.jsonl", "toolcall_sft/eval.jsonl",
    "identity_dpo/eval.jsonl", "continual_replay/medical_eval.jsonl", "continual_replay/finance_eval.jsonl",
]
#: eval file -> the training files whose prompts it must not repeat
HELD_OUT = {
    "ecommerce_cs/eval.jsonl": ["ecommerce_cs/train.jsonl", "ecommerce_cs/bok_prompts.jsonl"],
    "math_grpo/eval.jsonl": ["math_grpo/train.jsonl"],
    "toolcall_sft/eval.jsonl": ["toolcall_sft/train_openai.jsonl", "toolcall_sft/train_sharegpt.jsonl"],
    "identity_dpo/eval.jsonl": ["identity_dpo/sft.json", "identity_dpo/dpo.jsonl"],
    "continual_replay/medical_eval.jsonl": ["medical_qa.jsonl"],
    "continual_replay/finance_eval.jsonl": ["continual_replay/finance_train.jsonl"],
    "general_eval.jsonl": ["ecommerce_cs/train.jsonl", "math_grpo/train.jsonl", "identity_dpo/sft.json",
                           "continual_replay/finance_train.jsonl", "medical_qa.jsonl"],
}


@pytest.fixture(scope="module")
def samples() -> ModuleType:
    """recipes/data/make_samples.py, imported by path (recipes/ is not a package)."""
    spec = importlib.util.spec_from_file_location("make_samples", DATA / "make_samples.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    module.rendered = module.render()  # also fills module.PLANTED
    return module


@pytest.fixture(scope="module")
def cleaned(samples) -> dict[str, ChainResult]:
    assert sorted(samples.TRAIN_FILES) == sorted(EXPECTED)
    return {path: apply(iter_load(DATA / path), samples.CHAIN) for path in samples.TRAIN_FILES}


def _texts(records: pl.DataFrame, columns: tuple[str, ...] = ("messages", "chosen", "rejected")) -> list[str]:
    """Per record: every message content and tool-call argument text of ``columns``."""
    out = []
    for row in records.select(columns).iter_rows(named=True):
        parts = []
        for message in (m for column in columns for m in row[column] or []):
            parts.append(message["content"] or "")
            parts.extend(call["arguments"] for call in message["tool_calls"] or [])
        out.append("\n".join(parts))
    return out


def _user_texts(path: str) -> set[str]:
    """Normalized user turns of a file's readable records (prompt-only records included)."""
    records = load_prompts(DATA / path).records if path.endswith("bok_prompts.jsonl") else read(DATA / path)
    return {" ".join(m["content"].split()).rstrip("?？。.!！")
            for messages in records["messages"].to_list() for m in messages if m["role"] == "user"}


def test_files_equal_the_generator_output(samples):
    for path, text in samples.rendered.items():
        assert (DATA / path).read_text(encoding="utf-8") == text, f"{path}: run recipes/data/make_samples.py"


@pytest.mark.parametrize("path", list(EXPECTED))
def test_cleaning_rejects_exactly_the_planted_rows(samples, cleaned, path):
    result, planted = cleaned[path], samples.PLANTED[path]
    rows_in, kept, reasons = EXPECTED[path]
    assert (result.stats[0]["rows_in"], result.kept.height) == (rows_in, kept)
    assert result.kept.height + result.rejected.height == rows_in
    assert dict(Counter(result.rejected["reason"].to_list())) == reasons
    by_id = {r["id"]: (r["stage"], r["reason"]) for r in result.rejected.iter_rows(named=True) if r["id"]}
    assert by_id == planted.rejected
    truncated = result.rejected.filter(pl.col("id").is_null())
    if planted.truncated_line is None:
        assert truncated.height == 0
    else:
        assert truncated.select("reason", "source_row").rows() == [("invalid_json", planted.truncated_line)]
    assert set(planted.masked + planted.kept_unflagged) <= set(result.kept["id"].to_list())


def test_pii_masked_exactly_where_planted(samples, cleaned):
    for path, result in cleaned.items():
        pii = result.stats[-1]
        assert pii["op"] == "pii.mask"
        assert pii["entities"] == EXPECTED_PII.get(path, {}), path
        assert pii["records_masked"] == len(samples.PLANTED[path].masked), path
        text = "\n".join(_texts(result.kept))
        for value in PLANTED_PII_VALUES:
            assert value not in text, (path, value)
    masked_call = cleaned["toolcall_sft/train_openai.jsonl"].kept.filter(pl.col("id") == "tc-oa-zh-pii-phone")
    call = masked_call["messages"][0][2]["tool_calls"][0]
    assert json.loads(call["arguments"])["phone"] == "<PHONE>"


def test_identity_slots_survive_cleaning_but_a_slot_pattern_catches_them(cleaned):
    """[[NAME]]/[[AUTHOR]] are template slots, not leftovers: the default chain keeps them
    verbatim, while LLaMA-Factory's {{name}} is rejected. A recipe that fills the slots can
    prove none survived with one extra pattern."""
    for path in ("identity_dpo/sft.json", "identity_dpo/dpo.jsonl"):
        kept = cleaned[path].kept
        texts = _texts(kept, ("messages", "chosen"))  # rejected answers are other identities
        with_slots = sum("[[NAME]]" in t or "[[AUTHOR]]" in t for t in texts)
        assert with_slots >= kept.height * 3 // 4, path
        assert not any("{{" in t for t in texts), path
        slot_check = apply(kept, [{"op": "filter.placeholders", "patterns": [r"\[\[(?:NAME|AUTHOR)\]\]"]}])
        assert slot_check.rejected.height == with_slots, path
        assert set(slot_check.rejected["reason"].to_list()) == {"placeholder"}


def test_math_references_parse_to_their_answers(samples):
    for id_, _question, solution, answer in samples.MATH_TRAIN + samples.MATH_EVAL:
        assert same_answer(final_answer(solution), float(answer)), id_
    # and the files hold those references: the last turn of every readable record parses
    for path in ("math_grpo/train.jsonl", "math_grpo/eval.jsonl"):
        for messages in read(DATA / path)["messages"].to_list():
            assert isinstance(final_answer(messages[-1]["content"]), float), (path, messages[-1])


def test_toolcall_eval_references_are_valid_calls_and_undeclared_tools_are_not(samples, cleaned):
    verifier = ToolCallVerifier()
    items = read_eval_set(DATA / "toolcall_sft/eval.jsonl").items
    assert items.height == len(samples.TOOLCALL_EVAL)
    for row in items.iter_rows(named=True):
        assert verifier.check(row["reference"], tools=row["tools"]).score == 1.0, row["id"]
    # the undeclared-tool rows pass every cleaning op (no op checks calls against tools) ...
    for path in ("toolcall_sft/train_openai.jsonl", "toolcall_sft/train_sharegpt.jsonl"):
        (bad_id,) = samples.PLANTED[path].kept_unflagged
        bad = cleaned[path].kept.filter(pl.col("id") == bad_id).row(0, named=True)
        call = next(m["tool_calls"][0] for m in bad["messages"] if m["tool_calls"])
        as_json = json.dumps({"name": call["name"], "arguments": json.loads(call["arguments"])})
        # ... but the tool_call verifier that scores the eval set flags them
        check = verifier.check(as_json, tools=bad["tools"])
        assert check.score == 0.0 and "unknown tool" in check.reason


def test_eval_sets_are_clean_have_references_and_are_held_out():
    for path in EVAL_FILES:
        evalset = read_eval_set(DATA / path)
        assert evalset.refused.height == 0, path
        assert 8 <= evalset.items.height <= 20, path
        assert evalset.items["reference"].null_count() == 0, path
        languages = {"zh" if any("\u4e00" <= c <= "\u9fff" for c in p) else "en" for p in evalset.items["prompt"]}
        assert languages == {"zh", "en"}, path
    for path, train_files in HELD_OUT.items():
        seen = set().union(*(_user_texts(t) for t in train_files))
        assert not _user_texts(path) & seen, path


def test_best_of_k_prompts_load_as_prompt_only_records():
    loaded = load_prompts(DATA / "ecommerce_cs/bok_prompts.jsonl")
    assert (loaded.records.height, loaded.rejected.height, loaded.stats["prompt_only"]) == (12, 0, 12)
    assert all(messages[-1]["role"] == "user" for messages in loaded.records["messages"].to_list())
