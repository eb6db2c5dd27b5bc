"""Golden tests: realistic samples of every format (English and Chinese, multi-turn,
tool calls, preference and KTO) read into exactly the expected canonical records, and
survive the trip through canonical Parquet and back into their own format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from dataforge.formats.api import detect_format, load, write
from dataforge.formats.published import validator
from dataforge.schemas.record import records, with_content_ids

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p for p in GOLDEN.iterdir() if p.is_file() and p.suffix in (".json", ".jsonl"))


def expected(path: Path) -> dict[str, Any]:
    return json.loads((GOLDEN / "expected" / f"{path.name.split('.')[0]}.canonical.json").read_text("utf-8"))


def raw_rows(path: Path) -> list[dict[str, Any]]:
    text = path.read_text("utf-8")
    if path.suffix == ".json":
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def semantic(value: Any) -> Any:
    """Parse JSON held in strings (tool arguments, tools, function-call turns), recursively:
    JSON text fields are compared by value, not spelling; a null key equals an absent one
    (writers leave nulls out)."""
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "[", '"'):
        try:
            return semantic(json.loads(value))
        except ValueError:
            return value
    if isinstance(value, list):
        return [semantic(v) for v in value]
    if isinstance(value, dict):
        return {k: semantic(v) for k, v in value.items() if v is not None}
    return value


def test_every_golden_file_has_an_expectation() -> None:
    assert len(CASES) >= 14
    for path in CASES:
        assert (GOLDEN / "expected" / f"{path.name.split('.')[0]}.canonical.json").exists(), path


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.name)
def test_golden_reads_to_expected_records(path: Path) -> None:
    exp = expected(path)
    res = load(path)
    assert (res.format, res.stats["variant"]) == (exp["format"], exp["variant"])
    assert detect_format(path) == exp["format"]
    assert res.rejected.height == 0
    hashes = with_content_ids(res.records.with_columns(pl.lit(None, dtype=pl.String).alias("id")))["id"].to_list()
    got = records(res.records)
    assert len(got) == len(exp["records"])
    for rec, want, content_hash in zip(got, exp["records"], hashes):
        if want["id"] is None:  # no id in the input: the id is the record's content hash
            assert rec["id"] == content_hash
            want = {**want, "id": content_hash}
        assert rec == want


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.name)
def test_golden_input_rows_match_published_json_schema(path: Path) -> None:
    check = validator(expected(path)["format"])
    for row in raw_rows(path):
        errors = [e.message for e in check.iter_errors(row)]
        assert errors == [], (path.name, errors)


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.name)
def test_golden_round_trip_through_canonical_parquet(path: Path, tmp_path: Path) -> None:
    res = load(path)
    canonical = write(res.records, tmp_path / "canonical.parquet")
    back = load(canonical)
    assert back.format == "canonical" and back.rejected.height == 0
    assert back.records.equals(res.records)  # canonical Parquet keeps everything, source included
    style = {"style": "standard"} if res.stats["variant"] == "standard" else {}
    out = write(back.records, tmp_path / f"again{''.join(path.suffixes)}", res.format, **style)
    again = load(out)
    assert again.format == res.format and again.rejected.height == 0
    assert again.records.drop("source").equals(res.records.drop("source"))


# Files whose own layout comes back key for key (JSON text compared by value), with the
# writer options that pick the same sub-layout.
RAW_IDENTICAL = {
    "alpaca_ranking.jsonl": {},
    "alpaca_kto.jsonl": {},
    "sharegpt_tools.jsonl": {},
    "sharegpt_multiturn.jsonl": {"system": "turn"},
    "sharegpt_ranking.jsonl": {},
    "sharegpt_kto.jsonl": {},
    "openai_tools.jsonl": {},
    "preference_conversational.jsonl": {},
    "preference_standard.jsonl": {"style": "standard"},
    "kto_conversational.jsonl": {},
    "kto_standard.jsonl": {"style": "standard"},
}


@pytest.mark.parametrize("name", sorted(RAW_IDENTICAL))
def test_format_to_canonical_to_format_restores_the_rows(name: str, tmp_path: Path) -> None:
    path = GOLDEN / name
    res = load(path)
    out = write(res.records, tmp_path / name, res.format, **RAW_IDENTICAL[name])
    assert semantic(raw_rows(out)) == semantic(raw_rows(path))
