"""Bad input: every rejection reason lands in the rejected table with file, 1-based
row, field path, reason, a human detail and the raw row; the other rows still convert,
and rows in = rows out + rows rejected, always."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from dataforge.formats.api import FormatError, StrictError, iter_load, load
from dataforge.formats.readers.validate import REASONS
from dataforge.schemas.rejected import REJECTED_SCHEMA

DEMO = Path(__file__).parents[3] / "recipes" / "data"

GOOD_SG = {"conversations": [{"from": "human", "value": "你好"}, {"from": "gpt", "value": "你好！"}]}


def jsonl(path: Path, rows: list[Any]) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def one_reject(path: Path, fmt: str | None = None) -> dict[str, Any]:
    res = load(path, fmt)
    assert res.records.height + res.rejected.height == res.stats["rows_in"]
    assert res.rejected.height == 1, res.rejected.select("reason", "field", "detail").to_dicts()
    assert res.records.height >= 1  # the good rows around the bad one still convert
    return res.rejected.row(0, named=True)


def sg(*turns: tuple[str, Any], **extra: Any) -> dict[str, Any]:
    return {"conversations": [{"from": f, "value": v} for f, v in turns], **extra}


CASES: dict[str, tuple[str | None, Any, str | None, str]] = {
    # name: (format, bad row, expected field, expected words in the detail)
    "invalid_json": ("sharegpt", '{"conversations": [{"from": "human", "value": "hi"', None, "Expecting"),
    "wrong_type_value": ("sharegpt", sg(("human", "hi"), ("gpt", 42)), "conversations[1].value", "expected string, got number 42"),
    "wrong_type_row": ("sharegpt", "[1, 2]", None, "must be a JSON object"),
    "wrong_type_list": ("sharegpt", {"conversations": "hello"}, "conversations", "expected array"),
    "missing_field": ("sharegpt", {"id": "x"}, "conversations", "conversations is missing"),
    "empty_conversation": ("sharegpt", {"conversations": []}, "conversations", "has no turns"),
    "unknown_role": ("sharegpt", sg(("human", "hi"), ("doctor", "yes")), "conversations[1].from", "'doctor'"),
    "invalid_tool_call": (
        "sharegpt", sg(("human", "x"), ("function_call", "{name: f}"), ("observation", "1"), ("gpt", "ok")),
        "conversations[1].value", "not valid JSON",
    ),
    "invalid_tool_arguments": (
        "sharegpt", sg(("human", "x"), ("function_call", '{"name": "f", "arguments": "{oops"}'), ("observation", "1"), ("gpt", "ok")),
        "conversations[1].value", "not valid JSON",
    ),
    "invalid_tools": ("sharegpt", sg(("human", "x"), ("gpt", "y"), tools="get_weather(city)"), "tools", "JSON array"),
    "empty_turn": ("sharegpt", sg(("human", " \n "), ("gpt", "y")), "conversations[0].value", "is empty"),
    "role_order_alternation": ("sharegpt", sg(("human", "a"), ("human", "b"), ("gpt", "c")), "conversations[1].from", "expected an assistant turn"),
    "role_order_tool": ("sharegpt", sg(("human", "a"), ("observation", "b"), ("gpt", "c")), "conversations[1].from", "tool result"),
    "role_order_end": ("sharegpt", sg(("human", "a"), ("gpt", "b"), ("human", "c")), "conversations[2].from", "end with an assistant turn"),
    "too_deep": ("sharegpt", '{"conversations": ' + "[" * 150 + "]" * 150 + "}", "conversations", "deeper than 100 levels"),
    "invalid_json_nan": ("sharegpt", json.dumps(GOOD_SG, ensure_ascii=False)[:-1] + ', "score": NaN}', None,
                         "NaN is not valid JSON"),
    "invalid_json_surrogate": ("sharegpt", '{"conversations": [{"from": "human", "value": "半个\\ud83d"}, {"from": "gpt", "value": "x"}]}',
                               "conversations[0].value", "lone UTF-16 surrogate \\ud83d"),
    "role_order_system": ("sharegpt", sg(("human", "a"), ("system", "b"), ("gpt", "c")), "conversations[1].from", "system"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_reason_is_located(case: str, tmp_path: Path) -> None:
    fmt, bad, field, words = CASES[case]
    path = jsonl(tmp_path / "data.jsonl", [GOOD_SG, bad, GOOD_SG])
    rej = one_reject(path, fmt)
    reason = case if case in REASONS else case.rsplit("_", 1)[0]
    assert rej["reason"] == reason
    assert rej["source_file"] == str(path) and rej["source_row"] == 2
    assert rej["field"] == field
    assert words in rej["detail"]
    assert rej["stage"] == "read:sharegpt"
    raw = path.read_text("utf-8").splitlines()[1]
    assert rej["raw"] == raw  # nothing is lost: the original line is kept verbatim


def test_openai_bad_tool_call_names_the_exact_field(tmp_path: Path) -> None:
    good = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    bad_args = {"messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "w", "arguments": "{}"}},
            {"id": "b", "type": "function", "function": {"name": "w", "arguments": "city=Paris"}}]},
        {"role": "tool", "content": "1", "tool_call_id": "a"}, {"role": "tool", "content": "2", "tool_call_id": "b"},
        {"role": "assistant", "content": "done"}]}
    rej = one_reject(jsonl(tmp_path / "o.jsonl", [good, bad_args]))
    assert (rej["reason"], rej["field"]) == ("invalid_tool_arguments", "messages[1].tool_calls[1].function.arguments")
    assert "city=Paris" in rej["detail"]
    no_name = json.loads(json.dumps(bad_args).replace('"name": "w", "arguments": "city=Paris"', '"name": "", "arguments": "{}"'))
    rej = one_reject(jsonl(tmp_path / "o2.jsonl", [good, no_name]))
    assert (rej["reason"], rej["field"]) == ("invalid_tool_call", "messages[1].tool_calls[1].function.name")


def test_preference_and_kto_missing_parts(tmp_path: Path) -> None:
    pair = {"prompt": "q", "chosen": "a", "rejected": "b"}
    rej = one_reject(jsonl(tmp_path / "p.jsonl", [pair, {"prompt": "q", "chosen": "a"}]))
    assert (rej["reason"], rej["field"]) == ("missing_field", "rejected")
    kto = {"prompt": "q", "completion": "a", "label": True}
    rej = one_reject(jsonl(tmp_path / "k.jsonl", [kto, {"prompt": "q", "completion": "a", "label": None}]))
    assert (rej["reason"], rej["field"], rej["detail"]) == ("missing_field", "label", "label is missing")
    rej = one_reject(jsonl(tmp_path / "k2.jsonl", [kto, {"prompt": "q", "completion": "a", "label": "yes"}]))
    assert (rej["reason"], rej["field"]) == ("wrong_type", "label")


def test_preference_prompt_must_end_with_user(tmp_path: Path) -> None:
    good = {"prompt": [{"role": "user", "content": "q"}], "chosen": [{"role": "assistant", "content": "a"}],
            "rejected": [{"role": "assistant", "content": "b"}]}
    bad = {**good, "prompt": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "x"}]}
    rej = one_reject(jsonl(tmp_path / "p.jsonl", [good, bad]))
    assert (rej["reason"], rej["field"]) == ("role_order", "prompt[1].role")
    assert "end with a user turn" in rej["detail"]


def test_alpaca_empty_output_and_history_turn(tmp_path: Path) -> None:
    good = {"instruction": "问", "input": "", "output": "答"}
    rej = one_reject(jsonl(tmp_path / "a.jsonl", [good, {"instruction": "q", "input": "", "output": ""}]))
    assert (rej["reason"], rej["field"], rej["detail"]) == ("empty_turn", "output", "output is empty")
    bad = {"instruction": "q", "output": "a", "history": [["h1", "a1"], ["h2", ""]]}
    rej = one_reject(jsonl(tmp_path / "b.jsonl", [good, bad]))
    assert (rej["reason"], rej["field"]) == ("empty_turn", "history[1][1]")


def test_rejected_table_has_the_shared_schema(tmp_path: Path) -> None:
    res = load(DEMO / "broken_lines.jsonl")
    assert dict(res.rejected.schema) == REJECTED_SCHEMA


def test_demo_broken_lines_are_located() -> None:
    res = load(DEMO / "broken_lines.jsonl")
    got = [(r["source_row"], r["reason"], r["field"]) for r in res.rejected.iter_rows(named=True)]
    assert got == [
        (2, "invalid_json", None),
        (3, "unknown_role", "conversations[1].from"),
        (4, "wrong_type", "conversations[1].value"),
        (6, "role_order", "conversations[0].from"),
        (7, "invalid_tool_call", "conversations[1].value"),
        (8, "empty_turn", "conversations[0].value"),
    ]
    assert res.records.height == 3 and res.stats["rows_in"] == 9


def test_invalid_utf8_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "u.jsonl"
    good = json.dumps(GOOD_SG, ensure_ascii=False).encode()
    path.write_bytes(good + b"\n\n" + b'{"conversations": "\xff\xfe"}\n' + good + b"\n")
    res = load(path)
    assert res.stats["rows_in"] == 3  # the blank line is not a row
    rej = res.rejected.row(0, named=True)
    assert (rej["reason"], rej["source_row"]) == ("invalid_json", 3)
    assert "UTF-8" in rej["detail"]


def test_invalid_utf8_inside_a_text_value(tmp_path: Path) -> None:
    # well-typed JSON whose string holds a bad byte: Arrow's reader takes it, so the fast
    # path must validate, or polars panics later
    path = tmp_path / "u.jsonl"
    good = json.dumps(GOOD_SG, ensure_ascii=False).encode()
    bad = b'{"conversations": [{"from": "human", "value": "h\xffi"}, {"from": "gpt", "value": "yo"}]}'
    path.write_bytes(good + b"\n" + bad + b"\n")
    rej = one_reject(path)
    assert (rej["reason"], rej["source_row"]) == ("invalid_json", 2)
    assert "UTF-8" in rej["detail"] and rej["raw"].startswith('{"conversations"')


def test_malformed_csv_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("instruction,output\nq1,a1\nq2,a2,extra\n", encoding="utf-8")
    with pytest.raises(FormatError, match=r"r\.csv: not a valid CSV file: .*Expected 2 columns, got 3: q2,a2,extra"):
        load(path)


def test_rows_are_conserved_across_shards(tmp_path: Path) -> None:
    lines = (DEMO / "broken_lines.jsonl").read_text("utf-8").splitlines() * 3
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    parts = list(iter_load(path, shard_rows=4))
    assert len(parts) == 7
    rows_in = sum(p.stats["rows_in"] for p in parts)
    assert rows_in == 27 == sum(p.records.height + p.rejected.height for p in parts)
    rows = pl.concat([p.rejected for p in parts])["source_row"].to_list()
    assert rows == [2, 3, 4, 6, 7, 8, 11, 12, 13, 15, 16, 17, 20, 21, 22, 24, 25, 26]


def test_strict_raises_with_the_same_detail(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "s.jsonl", [GOOD_SG, sg(("human", "hi"), ("doctor", "yes"))])
    with pytest.raises(StrictError) as err:
        load(path, strict=True)
    assert str(err.value) == f"{path}:2: conversations[1].from: unknown_role: unknown role 'doctor' at conversations[1].from"


def test_csv_and_parquet_type_errors(tmp_path: Path) -> None:
    csv = tmp_path / "k.csv"
    pl.DataFrame({"prompt": ["q1", "q2"], "completion": ["a1", "a2"], "label": ["true", "maybe"]}).write_csv(csv)
    rej = one_reject(csv)
    assert (rej["reason"], rej["field"], rej["source_row"]) == ("wrong_type", "label", 2)
    pq = tmp_path / "a.parquet"
    pl.DataFrame({"instruction": ["q1", "q2"], "output": ["a", "b"], "history": ['[["h", "a"]]', "[[1, 2"]}).write_parquet(pq)
    rej = one_reject(pq)
    assert (rej["reason"], rej["field"], rej["source_row"]) == ("invalid_json", "history", 2)


@pytest.mark.parametrize("fmt", ["sharegpt", "alpaca", "openai", "preference", "kto", "glaive", "canonical"])
def test_a_shard_with_no_good_row(fmt: str, tmp_path: Path) -> None:
    path = jsonl(tmp_path / "bad.jsonl", ['{"oops": ', "not json at all"])
    res = load(path, fmt)
    assert (res.records.height, res.rejected.height, res.stats["rows_in"]) == (0, 2, 2)
    assert set(res.rejected["reason"]) == {"invalid_json"}


def test_glaive_text_without_role_marker(tmp_path: Path) -> None:
    good = {"system": "", "chat": "USER: hi\n\n\nASSISTANT: hello <|endoftext|>\n\n\n"}
    bad = {"system": "", "chat": "hello there\nUSER: hi\n\n\nASSISTANT: hello <|endoftext|>"}
    rej = one_reject(jsonl(tmp_path / "g.jsonl", [good, bad]))
    assert (rej["reason"], rej["field"]) == ("unknown_role", "chat[turn 0]")
    assert rej["detail"] == "a turn without a known role at chat[turn 0]"
