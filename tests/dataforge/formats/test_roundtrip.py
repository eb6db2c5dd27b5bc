"""Property: canonical -> format -> canonical is the identity for every field the format
can hold (docs/formats.md lists what each cannot). Records mix English, Chinese, quotes,
backslashes and newlines; files go through every output type the format supports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataforge.formats.api import load, write
from dataforge.schemas.record import from_dicts, message, records

ALPHABET = st.characters(
    whitelist_categories=("Lu", "Ll", "Nd", "Po", "Zs", "Lo"),
    whitelist_characters='"\\\n\t{}[]:,中文测试',
)
TEXT = st.text(ALPHABET, min_size=1, max_size=30).filter(lambda s: s.strip() != "")
#: glaive is free text: turn boundaries eat surrounding whitespace (documented)
STRIPPED = TEXT.map(str.strip)
NAME = st.from_regex(r"[a-z][a-z_]{0,11}", fullmatch=True)
JSON_SCALAR = st.one_of(st.integers(-1000, 1000), TEXT, st.booleans())


def compact(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


ARGS = st.dictionaries(NAME, JSON_SCALAR, max_size=3).map(compact)
TOOLS = st.lists(
    st.fixed_dictionaries({"name": NAME, "description": TEXT}), min_size=1, max_size=2
).map(compact)
META = st.one_of(st.none(), st.dictionaries(NAME.map(lambda k: "x_" + k), JSON_SCALAR, min_size=1, max_size=3).map(compact))
ID = st.one_of(st.none(), st.from_regex(r"rec-[0-9]{1,6}", fullmatch=True))


@st.composite
def chat(draw: Any, *, tools: bool = False, names: bool = False, call_ids: bool = False,
         parallel: bool = True, end_with_assistant: bool = True, text: Any = TEXT) -> list[dict[str, Any]]:
    """A valid conversation: system?, user/assistant rounds, optional tool loops."""
    TEXT = text  # noqa: N806 - the text strategy for this format
    msgs = []
    if draw(st.booleans()):
        msgs.append(message("system", draw(TEXT)))
    rounds = draw(st.integers(1, 3))
    for r in range(rounds):
        msgs.append(message("user", draw(TEXT), name=draw(st.one_of(st.none(), NAME)) if names else None))
        last = r == rounds - 1
        if last and not end_with_assistant:
            break
        if tools and draw(st.booleans()):
            n = draw(st.integers(1, 2 if parallel else 1))
            calls = [
                {"id": draw(NAME) if call_ids else None, "name": draw(NAME), "arguments": draw(ARGS)} for _ in range(n)
            ]
            msgs.append(message("assistant", None, tool_calls=calls))
            for c in calls:
                msgs.append(message("tool", draw(TEXT), tool_call_id=c["id"]))
        msgs.append(message("assistant", draw(TEXT), name=draw(st.one_of(st.none(), NAME)) if names else None))
    return msgs


@st.composite
def records_for(draw: Any, fmt: str) -> pl.DataFrame:
    """Canonical records within what ``fmt`` can hold."""
    rows = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from({
            "alpaca": ["sft", "pair", "kto"], "sharegpt": ["sft", "pair", "kto", "tools"],
            "openai": ["sft", "tools"], "preference": ["pair"], "kto": ["kto"],
            "glaive": ["sft", "tools"], "canonical": ["sft", "pair", "kto", "tools"],
        }[fmt]))
        rich = fmt in ("openai", "canonical")
        text = STRIPPED if fmt == "glaive" else TEXT
        rec: dict[str, Any] = {"id": draw(ID), "meta": None if fmt == "glaive" else draw(META)}
        if kind == "tools":
            rec["messages"] = draw(chat(tools=True, names=rich, call_ids=rich, parallel=fmt != "glaive", text=text))
            rec["tools"] = draw(TOOLS)
        elif kind == "pair":
            rec["messages"] = draw(chat(end_with_assistant=False, names=rich or fmt == "preference"))
            rec["chosen"] = [message("assistant", draw(TEXT))]
            rec["rejected"] = [message("assistant", draw(TEXT))]
        else:
            rec["messages"] = draw(chat(names=rich, text=text))
            if kind == "kto":
                rec["label"] = draw(st.booleans())
        rows.append(rec)
    return from_dicts(rows).with_columns(pl.lit("generated").alias("source"))


EXTENSIONS = {
    "alpaca": [".jsonl", ".json", ".parquet"], "sharegpt": [".jsonl", ".json.gz", ".parquet"],
    "openai": [".jsonl", ".parquet"], "preference": [".jsonl", ".json"], "kto": [".jsonl", ".parquet"],
    "glaive": [".jsonl"], "canonical": [".parquet", ".jsonl"],
}


def round_trip(df: pl.DataFrame, fmt: str, ext: str, folder: Path) -> pl.DataFrame:
    out = folder / f"data-{fmt}{ext}"
    write(df, out, fmt)
    res = load(out, fmt)
    assert res.rejected.height == 0, res.rejected.select("reason", "field", "detail").to_dicts()
    return res.records


@pytest.mark.parametrize("fmt", sorted(EXTENSIONS))
def test_canonical_format_canonical_is_identity(fmt: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp(fmt)

    @settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(df=records_for(fmt), ext=st.sampled_from(EXTENSIONS[fmt]))
    def prop(df: pl.DataFrame, ext: str) -> None:
        back = round_trip(df, fmt, ext, folder)
        keep = [c for c in df.columns if c != "source"]  # external files name their own source
        assert records(back.select(keep)) == records(df.select(keep))

    prop()


@pytest.mark.parametrize("ext", [".jsonl", ".json"])
@pytest.mark.parametrize("bad_row", [False, True])
def test_meta_keeps_each_rows_key_order(ext: str, bad_row: bool, tmp_path: Path) -> None:
    """Rows with different extra keys (hypothesis found it): the shard's column order is
    the order keys first appear, yet each row's meta must come back in its own order, on
    the Arrow path, the JSON array path and the line-by-line path (a broken row)."""
    metas = ['{"x_b":1}', '{"x_a":1,"x_b":2}', '{"x_c":true,"x_a":"三"}']
    rows = [
        {"messages": [message("user", "问")], "chosen": [message("assistant", "好")],
         "rejected": [message("assistant", "坏")], "meta": m}
        for m in metas
    ]
    out = tmp_path / f"pairs{ext}"
    write(from_dicts(rows), out, "preference")
    if bad_row:
        text = out.read_text(encoding="utf-8")
        out.write_text(text.replace("\n", '\n{"prompt": 3}\n', 1) if ext == ".jsonl"
                       else text.replace("[\n", '[\n{"prompt": 3},\n', 1), encoding="utf-8")
    res = load(out)
    assert res.records["meta"].to_list() == metas
    assert res.rejected.height == int(bad_row)
