"""The formats CLI through typer's CliRunner: convert (both directions, rejected file,
--strict, llamafactory folders), inspect and schema. Includes the issue's done-when:
Alpaca, ShareGPT-with-tools, DPO and KTO demo files to canonical Parquet and back give
identical records; broken lines give located rejections."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import dataforge.cli.formats  # noqa: F401  (registers convert/inspect/schema on the app)
import dataforge.cli.ops  # noqa: F401  (registers apply)
from dataforge.cli.app import app
from dataforge.formats.api import load
from dataforge.rejects import read_rejected

DEMO = Path(__file__).parents[3] / "recipes" / "data"
runner = CliRunner()


def cli(*args: str) -> "object":
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "400"})


@pytest.mark.parametrize(
    "name,fmt",
    [("alpaca_medical_zh_en.json", "alpaca"), ("sharegpt_tools.jsonl", "sharegpt"),
     ("dpo_pairs.jsonl", "preference"), ("kto_feedback.jsonl", "kto")],
)
def test_demo_file_to_canonical_and_back(name: str, fmt: str, tmp_path: Path) -> None:
    src = DEMO / name
    canonical = tmp_path / "data.parquet"
    res = cli("convert", src, canonical)
    assert res.exit_code == 0, res.output
    assert f"({fmt}" in res.output and "0 rejected" in res.output
    back = tmp_path / f"back{''.join(src.suffixes)}"
    res = cli("convert", canonical, back, "--to", fmt)
    assert res.exit_code == 0, res.output
    original, returned = load(src), load(back)
    assert returned.format == fmt
    assert returned.records.drop("source").equals(original.records.drop("source"))
    assert not (tmp_path / "data.rejected").exists()


def test_broken_lines_report_and_rejected_file(tmp_path: Path) -> None:
    out = tmp_path / "clean.jsonl"
    res = cli("convert", DEMO / "broken_lines.jsonl", out, "--to", "openai")
    assert res.exit_code == 0, res.output
    assert "9 rows in, 3 written, 6 rejected" in res.output
    for reason in ("invalid_json", "unknown_role", "wrong_type", "role_order", "invalid_tool_call", "empty_turn"):
        assert reason in res.output
    # each rejection is printed compiler-style: file:line: field: reason: detail
    assert "broken_lines.jsonl:2: invalid_json:" in res.output
    assert "broken_lines.jsonl:3: conversations[1].from: unknown_role:" in res.output
    assert "broken_lines.jsonl:4: conversations[1].value: wrong_type:" in res.output
    rejected = read_rejected(tmp_path / "clean.rejected")
    assert rejected["source_row"].to_list() == [2, 3, 4, 6, 7, 8]
    assert rejected["raw"].null_count() == 0
    assert len(out.read_text("utf-8").splitlines()) == 3


def test_strict_fails_with_location_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "x.parquet"
    res = cli("convert", DEMO / "broken_lines.jsonl", out, "--strict")
    assert res.exit_code == 2
    assert "broken_lines.jsonl:2:" in res.output and "invalid_json" in res.output
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_capacity_error_is_reported(tmp_path: Path) -> None:
    res = cli("convert", DEMO / "sharegpt_tools.jsonl", tmp_path / "a.jsonl", "--to", "alpaca")
    assert res.exit_code == 2 and "alpaca cannot hold tools" in res.output
    assert not (tmp_path / "a.jsonl").exists()


def test_format_override_and_writer_options(tmp_path: Path) -> None:
    out = tmp_path / "std.jsonl"
    res = cli("convert", DEMO / "kto_feedback.jsonl", out, "--format", "kto", "--to", "kto", "-o", "style=standard")
    assert res.exit_code == 0, res.output
    first = json.loads(out.read_text("utf-8").splitlines()[0])
    assert first == {"prompt": "头疼可以吃什么药？", "completion": "成人偶发头痛可以按说明服用对乙酰氨基酚或布洛芬；频繁发作请就医。", "label": True}


def test_llamafactory_folder(tmp_path: Path) -> None:
    folder = tmp_path / "lf"
    res = cli("convert", DEMO / "dpo_pairs.jsonl", folder, "--to", "llamafactory")
    assert res.exit_code == 0, res.output
    info = json.loads((folder / "dataset_info.json").read_text("utf-8"))
    assert info["dpo_pairs"]["ranking"] is True and info["dpo_pairs"]["file_name"] == "dpo_pairs.jsonl"
    assert load(folder / "dpo_pairs.jsonl").records.height == 4


def test_inspect_shows_format_counts_and_a_record() -> None:
    res = cli("inspect", DEMO / "sharegpt_tools.jsonl")
    assert res.exit_code == 0, res.output
    for text in ("sharegpt", "with_tools", "check_blood_pressure", "turns", "assistant", "record "):
        assert text in res.output
    res = cli("inspect", DEMO / "dpo_pairs.jsonl", "--json")
    summary = json.loads(res.stdout)  # progress goes to stderr
    assert (summary["format"], summary["pairs"], summary["rows"]) == ("preference", 4, 4)
    assert summary["with_cjk"] == 2
    res = cli("inspect", DEMO / "kto_feedback.jsonl", "--json")
    summary = json.loads(res.stdout)
    assert (summary["kto_desirable"], summary["kto_undesirable"]) == (2, 2)


def test_schema_command() -> None:
    res = cli("schema")
    assert res.exit_code == 0, res.output
    for text in ("canonical record", "list<message>", "tool_call.arguments", "sharegpt", "glaive", "llamafactory"):
        assert text in res.output
    res = cli("schema", "openai")
    assert res.exit_code == 0 and json.loads(res.output)["title"].startswith("OpenAI")
    res = cli("schema", "nope")
    assert res.exit_code == 2 and "unknown format" in res.output


def test_keys_that_are_not_kept_are_warnings_in_convert_inspect_and_apply(tmp_path: Path) -> None:
    src = tmp_path / "turns.jsonl"
    src.write_text(json.dumps({"conversations": [{"from": "human", "value": "你好", "weight": 0},
                                                 {"from": "gpt", "value": "您好", "weight": 1}], "label": True},
                              ensure_ascii=False) + "\n", encoding="utf-8")
    expected = ["warning: conversations[].weight: the sharegpt format has no field for this nested key",
                "warning: label: the sharegpt format does not read this key; its values are kept in meta"]
    for args in (("convert", src, tmp_path / "a.parquet"), ("inspect", src),
                 ("apply", src, tmp_path / "b.parquet", "--op", "normalize")):
        res = cli(*args)
        assert res.exit_code == 0 and all(w in res.output for w in expected), res.output
    named = tmp_path / "named.jsonl"
    named.write_text(json.dumps({"messages": [{"role": "user", "content": "hi", "name": "bob"},
                                              {"role": "assistant", "content": "hello"}]}) + "\n", encoding="utf-8")
    res = cli("convert", named, tmp_path / "named_sharegpt.jsonl", "--to", "sharegpt")
    assert "warning: messages[].name: the sharegpt format has no place for it; left out of 1 record(s)" in res.output
