"""Readers and writers: file types, shards, detection, extras/meta, ids, atomic writes,
LLaMA-Factory folders, TRL datasets, and the clear errors for what a format can't hold."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import polars as pl
import pytest

from dataforge.outputs import MARKER
from dataforge.formats.api import FormatError, detect_format, iter_load, load, open_writer, read, to_trl_dataset, write
from dataforge.schemas.record import COLUMNS, from_dicts, message

GOLDEN = Path(__file__).parent / "golden"
DEMO = Path(__file__).parents[3] / "recipes" / "data"


def lines(path: Path) -> list[dict]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:  # type: ignore[operator]
        return [json.loads(line) for line in f if line.strip()]


def test_same_records_from_every_file_type(tmp_path: Path) -> None:
    base = load(GOLDEN / "sharegpt_multiturn.jsonl").records
    rows = lines(GOLDEN / "sharegpt_multiturn.jsonl")
    (tmp_path / "a.json").write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    with gzip.open(tmp_path / "a.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write("\n".join(json.dumps(r, ensure_ascii=False) for r in rows))  # no final newline
    with gzip.open(tmp_path / "a.json.gz", "wt", encoding="utf-8") as f:
        f.write(json.dumps(rows, ensure_ascii=False))
    (tmp_path / "lines.json").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    frame = pl.DataFrame({
        "id": [r.get("id") for r in rows], "lang": [r.get("lang") for r in rows],
        "conversations": [json.dumps(r["conversations"], ensure_ascii=False) for r in rows],
    })
    frame.write_csv(tmp_path / "a.csv")
    frame.write_parquet(tmp_path / "text.parquet")  # nested column stored as JSON text
    pl.DataFrame(rows).write_parquet(tmp_path / "a.parquet")
    for name in ("a.json", "a.jsonl.gz", "a.json.gz", "lines.json", "a.csv", "text.parquet", "a.parquet"):
        got = load(tmp_path / name, "sharegpt" if name.endswith(("csv", "text.parquet")) else None)
        assert got.rejected.height == 0, name
        assert got.records.drop("source").equals(base.drop("source")), name


def test_csv_and_parquet_are_detected(tmp_path: Path) -> None:
    rows = lines(GOLDEN / "alpaca_kto.jsonl")
    pl.DataFrame(rows).write_csv(tmp_path / "a.csv")
    pl.DataFrame(rows).write_parquet(tmp_path / "a.parquet")
    want = load(GOLDEN / "alpaca_kto.jsonl").records.drop("source")
    for name in ("a.csv", "a.parquet"):
        assert detect_format(tmp_path / name) == "alpaca"
        assert load(tmp_path / name).records.drop("source").equals(want)


def test_csv_with_long_cells_and_parquet_with_json_text_are_detected(tmp_path: Path) -> None:
    # the detection sample must not depend on the first rows fitting in a fixed byte budget
    long_csv = tmp_path / "long.csv"
    pl.DataFrame({"instruction": ["x" * 20_000 + f", {i}" for i in range(120)], "output": ["ok"] * 120}).write_csv(long_csv)
    assert detect_format(long_csv) == "alpaca"
    assert load(long_csv).records.height == 120
    # nested fields stored as JSON text are read (tabular.typed_shard), so detect them too
    conv = [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]
    text_pq = tmp_path / "conv_text.parquet"
    pl.DataFrame({"conversations": [json.dumps(conv)]}).write_parquet(text_pq)
    assert detect_format(text_pq) == "sharegpt"
    assert load(text_pq).records.height == 1


def test_shards_stream_with_file_row_numbers(tmp_path: Path) -> None:
    src = GOLDEN / "sharegpt_multiturn.jsonl"
    rows = lines(src) * 5
    path = tmp_path / "many.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    parts = list(iter_load(path, shard_rows=3))
    assert [p.records.height for p in parts] == [3, 3, 3, 1]
    assert pl.concat([p.records for p in parts]).equals(load(path).records)
    pq_path = write(load(path).records, tmp_path / "many.parquet")
    assert [p.records.height for p in iter_load(pq_path, shard_rows=4)] == [4, 4, 2]


def test_detection_names_candidates_and_format_overrides(tmp_path: Path) -> None:
    path = tmp_path / "both.jsonl"
    path.write_text(json.dumps({"instruction": "q", "output": "a", "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}) + "\n")
    with pytest.raises(FormatError, match="ambiguous format.*alpaca and sharegpt.*--format"):
        detect_format(path)
    res = load(path, "sharegpt")
    assert res.format == "sharegpt"
    assert json.loads(res.records["meta"][0]) == {"instruction": "q", "output": "a"}  # nothing lost
    unknown = tmp_path / "x.jsonl"
    unknown.write_text('{"question": "q", "answer": "a"}\n')
    with pytest.raises(FormatError, match="not recognized.*question"):
        detect_format(unknown)


def test_extra_columns_go_to_meta_and_come_back(tmp_path: Path) -> None:
    src = tmp_path / "a.jsonl"
    src.write_text(
        json.dumps({"instruction": "问", "input": "", "output": "答", "score": 4.5, "tags": ["zh", "med"], "ref": {"url": "x"}}, ensure_ascii=False) + "\n"
        + json.dumps({"instruction": "q", "input": "", "output": "a"}) + "\n",
        encoding="utf-8",
    )
    res = load(src)
    assert json.loads(res.records["meta"][0]) == {"score": 4.5, "tags": ["zh", "med"], "ref": {"url": "x"}}
    assert res.records["meta"][1] is None
    out = write(res.records, tmp_path / "out.jsonl", "alpaca")
    assert lines(out) == lines(src)


def test_meta_key_that_collides_is_kept_as_text(tmp_path: Path) -> None:
    df = from_dicts([{"messages": [message("user", "q"), message("assistant", "a")], "meta": {"output": "old", "k": 1}}])
    out = write(df, tmp_path / "a.jsonl", "alpaca")
    row = lines(out)[0]
    assert row["output"] == "a" and json.loads(row["meta"]) == {"k": 1, "output": "old"}
    assert read(out)["meta"].to_list() == df["meta"].to_list()


def test_ids_written_only_when_given(tmp_path: Path) -> None:
    res = load(GOLDEN / "sharegpt_multiturn.jsonl")
    hashed = from_dicts([{"messages": [message("user", "q"), message("assistant", "a")]}])
    out = write(pl.concat([res.records, hashed]), tmp_path / "s.jsonl", "sharegpt")
    assert [r.get("id") for r in lines(out)] == ["sg-1", "sg-2", None]


def test_external_parquet_keeps_meta_and_ids(tmp_path: Path) -> None:
    res = load(GOLDEN / "sharegpt_multiturn.jsonl")
    out = write(res.records, tmp_path / "s.parquet", "sharegpt")
    assert {"conversations", "id", "meta"} <= set(pl.read_parquet(out).columns)
    assert load(out).records.drop("source").equals(res.records.drop("source"))


def test_canonical_parquet_schema_and_atomic_write(tmp_path: Path) -> None:
    res = load(GOLDEN / "openai_tools.jsonl")
    target = tmp_path / "c.parquet"
    write(res.records, target)
    before = target.read_bytes()
    with pytest.raises(RuntimeError):
        with open_writer(target) as w:
            w.write(res.records.head(1))
            raise RuntimeError("killed mid-write")
    assert target.read_bytes() == before  # the old file is untouched
    assert sorted(os.listdir(tmp_path)) == [MARKER, "c.parquet"]  # no temp file is left (the marker records c.parquet as ours)
    assert pl.read_parquet(target).columns == list(COLUMNS)


def test_capacity_errors_name_records_and_alternatives(tmp_path: Path) -> None:
    tools = load(GOLDEN / "sharegpt_tools.jsonl").records
    with pytest.raises(FormatError, match="alpaca cannot hold tools.*Write `sharegpt` or `openai`"):
        write(tools, tmp_path / "a.jsonl", "alpaca")
    assert not (tmp_path / "a.jsonl").exists()
    pairs = load(GOLDEN / "preference_conversational.jsonl").records
    with pytest.raises(FormatError, match="openai cannot hold preference pairs"):
        write(pairs, tmp_path / "o.jsonl", "openai")
    with pytest.raises(FormatError, match="standard"):
        write(pairs, tmp_path / "p.jsonl", "preference", style="standard")  # has a system turn
    text_and_call = from_dicts([{"messages": [
        message("user", "q"),
        message("assistant", "let me check", tool_calls=[{"id": None, "name": "f", "arguments": "{}"}]),
        message("tool", "1"), message("assistant", "a")]}])
    with pytest.raises(FormatError, match="sharegpt cannot hold assistant text alongside a tool call"):
        write(text_and_call, tmp_path / "s.jsonl", "sharegpt")
    assert read(write(text_and_call, tmp_path / "o.jsonl", "openai")).drop("source").equals(text_and_call.drop("source"))


def test_json_array_and_gzip_outputs(tmp_path: Path) -> None:
    res = load(DEMO / "alpaca_medical_zh_en.json")
    out = write(res.records, tmp_path / "a.json", "alpaca")
    assert isinstance(json.loads(out.read_text("utf-8")), list)
    gz = write(res.records, tmp_path / "a.jsonl.gz", "alpaca")
    assert len(lines(gz)) == res.records.height
    with pytest.raises(FormatError, match="output must end in"):
        write(res.records, tmp_path / "a.txt", "alpaca")
    empty = write(res.records.head(0), tmp_path / "e.json", "alpaca")
    assert json.loads(empty.read_text()) == []


def test_llamafactory_folder_and_dataset_info(tmp_path: Path) -> None:
    folder = tmp_path / "lf"
    write(load(DEMO / "sharegpt_tools.jsonl").records, folder, "llamafactory", name="tools_demo")
    write(load(GOLDEN / "alpaca_ranking.jsonl").records, folder, "llamafactory", name="dpo_demo", formatting="alpaca")
    write(load(GOLDEN / "sharegpt_kto.jsonl").records, folder, "llamafactory", name="kto_demo")
    info = json.loads((folder / "dataset_info.json").read_text("utf-8"))
    assert info["tools_demo"] == {
        "file_name": "tools_demo.jsonl", "formatting": "sharegpt",
        "columns": {"messages": "conversations", "system": "system", "tools": "tools"},
        "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
                 "observation_tag": "observation", "function_tag": "function_call", "system_tag": "system"},
    }
    assert info["dpo_demo"]["ranking"] is True
    assert info["dpo_demo"]["columns"] == {"prompt": "instruction", "query": "input", "system": "system",
                                          "chosen": "chosen", "rejected": "rejected"}
    assert info["kto_demo"]["columns"]["kto_tag"] == "kto_tag"
    first = lines(folder / "tools_demo.jsonl")[0]
    assert first["conversations"][1]["from"] == "function_call" and isinstance(first["tools"], str)
    assert load(folder / "dpo_demo.jsonl").records.drop("source").equals(
        load(GOLDEN / "alpaca_ranking.jsonl").records.drop("source"))


def test_trl_datasets() -> None:
    sft = to_trl_dataset(load(DEMO / "sharegpt_tools.jsonl").records, "sft")
    assert sft.column_names == ["messages", "tools"]
    assert [m["role"] for m in sft[0]["messages"]] == ["system", "user", "assistant", "tool", "assistant"]
    call = sft[0]["messages"][2]["tool_calls"][0]
    # arguments are objects for chat templates (tojson), not the OpenAI API's JSON text
    assert call["type"] == "function" and call["function"]["arguments"] == {"systolic": 150, "diastolic": 95}
    assert isinstance(json.loads(sft[0]["tools"]), list)
    dpo = to_trl_dataset(load(DEMO / "dpo_pairs.jsonl").records, "dpo")
    assert dpo.column_names == ["prompt", "chosen", "rejected"]
    assert dpo[0]["chosen"] == [{"role": "assistant", "content": "普通感冒多由病毒引起，抗生素无效，一般对症治疗并多休息即可。"}]
    kto = to_trl_dataset(load(DEMO / "kto_feedback.jsonl").records, "kto")
    assert kto.column_names == ["prompt", "completion", "label"] and kto["label"] == [True, False, True, False]
    with pytest.raises(FormatError, match="kind='dpo'"):
        to_trl_dataset(load(DEMO / "dpo_pairs.jsonl").records, "sft")


def test_sharegpt_with_role_content_keys_and_extra_turn_keys(tmp_path: Path) -> None:
    """LLaMA-Factory's sharegpt with OpenAI-style tags; unknown keys inside turns are
    reported in stats (they have no canonical field), never silently dropped."""
    path = tmp_path / "lf.jsonl"
    row = {"messages": [
        {"role": "user", "content": "天气？", "weight": 1},
        {"role": "function_call", "content": '{"name": "get_weather", "arguments": {"city": "北京"}}'},
        {"role": "observation", "content": "晴"},
        {"role": "assistant", "content": "晴天。"}]}
    path.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    assert detect_format(path) == "sharegpt"
    res = load(path)
    assert [m["role"] for m in res.records["messages"][0]] == ["user", "assistant", "tool", "assistant"]
    assert res.records["messages"][0][1]["tool_calls"][0]["arguments"] == '{"city":"北京"}'
    assert res.stats["ignored_fields"] == ["messages[].weight"]


def test_canonical_jsonl_is_detected_and_lossless(tmp_path: Path) -> None:
    res = load(GOLDEN / "openai_tools.jsonl")
    out = write(res.records, tmp_path / "c.jsonl", "canonical")
    assert detect_format(out) == "canonical"
    assert load(out).records.equals(res.records)  # source included: canonical files carry it


KTO_DEMO = [  # LLaMA-Factory's own KTO layout (data/kto_en_demo.json): messages + label
    {"messages": [{"content": "Which is the best summary of this article?", "role": "user"},
                  {"content": " Ooh ooh ah ah! *giggle* D! Science/Tech!", "role": "assistant"}], "label": True},
    {"messages": [{"content": "你好，请介绍一下北京。", "role": "user"}, {"content": "不知道。", "role": "assistant"},
                  {"content": "再想想？", "role": "user"}, {"content": "北京是中国的首都。", "role": "assistant"}],
     "label": False},
]


def test_llamafactory_kto_layout_is_read_detected_and_by_name_and_written_back(tmp_path: Path) -> None:
    src = tmp_path / "kto_en_demo.json"
    src.write_text(json.dumps(KTO_DEMO, ensure_ascii=False, indent=2), encoding="utf-8")
    assert detect_format(src) == "kto"
    for fmt in (None, "kto"):
        res = load(src, fmt)
        assert (res.format, res.stats["variant"], res.rejected.height) == ("kto", "messages", 0)
        assert res.records["label"].to_list() == [True, False] and res.records["meta"].to_list() == [None, None]
        assert [len(m) for m in res.records["messages"].to_list()] == [2, 4]
    back = write(res.records, tmp_path / "back.json", "kto", style="messages")
    assert json.loads(back.read_text(encoding="utf-8")) == [
        {"messages": [{k: m[k] for k in ("role", "content")} for m in r["messages"]], "label": r["label"]} for r in KTO_DEMO
    ]
    folder = tmp_path / "lf"
    with open_writer(folder, "llamafactory", name="kto_demo") as writer:
        writer.write(res.records)
    entry = json.loads((folder / "dataset_info.json").read_text(encoding="utf-8"))["kto_demo"]
    assert entry["columns"]["kto_tag"] == "kto_tag"
    assert load(folder / "kto_demo.jsonl").records["label"].to_list() == [True, False]


def test_input_keys_no_field_keeps_are_listed_for_every_format(tmp_path: Path) -> None:
    """Nested keys with no canonical field, and keys named like a record field that the
    format does not read (their values only reach meta), are reported, not silent."""
    from dataforge.formats.api import read_warnings

    openai = tmp_path / "forced.jsonl"
    openai.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in KTO_DEMO), encoding="utf-8")
    res = load(openai, "openai")
    assert res.stats["unread_fields"] == ["label"] and res.records["meta"].to_list() == ['{"label":true}', '{"label":false}']
    assert "label: the openai format does not read this key" in read_warnings(res.stats, "openai")[0]
    alpaca = tmp_path / "alpaca.jsonl"
    alpaca.write_text(json.dumps({"instruction": "天气？", "output": "晴", "tools": "[]", "history": []},
                                 ensure_ascii=False) + "\n", encoding="utf-8")
    assert load(alpaca).stats["unread_fields"] == ["tools"]
    sharegpt = tmp_path / "weights.json"
    sharegpt.write_text(json.dumps([{"conversations": [{"from": "human", "value": "你好", "weight": 0},
                                                       {"from": "gpt", "value": "您好", "weight": 1, "lang": "zh"}]}],
                                   ensure_ascii=False), encoding="utf-8")
    res = load(sharegpt)
    assert res.stats["ignored_fields"] == ["conversations[].lang", "conversations[].weight"]
    assert all("has no field for this nested key" in w for w in read_warnings(res.stats, "sharegpt"))


def test_message_fields_a_format_cannot_hold_are_counted_when_written(tmp_path: Path) -> None:
    df = from_dicts([
        {"messages": [message("user", "查天气", name="小明"),
                      message("assistant", None, tool_calls=[{"id": "c1", "name": "weather", "arguments": "{}"}]),
                      message("tool", "晴", tool_call_id="c1"), message("assistant", "晴天")]},
        {"messages": [message("user", "hi", name="bob"), message("assistant", "hello")]},
        {"messages": [message("user", "plain"), message("assistant", "text")]},
    ])
    with open_writer(tmp_path / "out.jsonl", "sharegpt") as writer:
        writer.write(df)
    assert writer.dropped == {"name": 2, "tool_call_id": 1, "tool_calls.id": 1}
    with open_writer(tmp_path / "out2.jsonl", "openai") as writer:
        writer.write(df)
    assert writer.dropped == {}
