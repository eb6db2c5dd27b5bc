"""The fast path gives presidio's findings and presidio-anonymizer's spans, exactly.

Compared on a mixed corpus (English, Chinese, Japanese/Korean, edge cases and generated
texts): ``FastAnalyzer.analyze`` against ``AnalyzerEngine.analyze`` (spans, entity types,
scores), ``resolve_conflicts`` against ``AnonymizerEngine.anonymize`` (what gets masked),
and the vectorized replacement against presidio's placeholder replacement.
"""

from __future__ import annotations

import random

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataforge.pii.checksums import cn_id_check_char, luhn_complete

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

EDGE_CASES = [
    "Contact john.smith@example.com or JOHN@EXAMPLE.CO.UK today.",
    "not emails: a@b, user@localhost, @handle, x@y.z",
    "Call (212) 555-0187 or +1 415 555 2671; fax 212.555.0199; ext 212-555-0187x12",
    "UK +44 20 7946 0958, 020 7946 0958; DE +49 30 901820; FR 01 42 68 53 00",
    "212-555-0187 212-555-0199 two numbers, 5550187 short, 12 212-555-0187",
    "Card 4111 1111 1111 1111, 4111-1111-1111-1111, 4111111111111111, bad 4111 1111 1111 1112",
    "Amex 3782 822463 10005 and 378282246310005; 6011111111111117; 5500 0055 5555 5559",
    "IPs 192.168.0.1, 10.0.0.256, ::1, 2001:db8::8a2e:370:7334, fe80::1%eth0, ::ffff:192.0.2.128",
    "::, 1::, 1:2:3:4:5:6:7:8, 192.168.1.1/24, 2001:db8::/32, ::ffff:0:192.0.2.1",
    "See https://www.example.com/path?q=1 and www.test.org, also example.io/docs and e.g. this.",
    "'http://quoted.example.com/x' and \"www.quoted.org\" and 'example.co.uk'",
    "IBAN DE89 3704 0044 0532 0130 00, GB82WEST12345698765432, bad DE89 3704 0044 0532 0130 01",
    "Order 2024-03-18 10:30, version 2.4.1, price $29.99, ticket #10234, 03/18/2024",
    "Email:john@x.com,phone:+86 13800138000;id:11010519491231002X",
    "john.smith@example.com (212) 555-0187 4111111111111111 10.1.2.3",
    "mail user@example.com/inbox now (e-mail and URL overlap partially)",
    "邮箱zhangwei@example.cn，电话13800138000。",
    "手机：138 0013 8000，或+86-138-0013-8000，或００８６１３８００１３８０００，或１３９１２３４５６７８",
    "身份证11010519491231002X和110105194912310021（错误校验），证件号440308199901011234",
    "卡号6222021234567890123，储蓄卡 6222 0212 3456 7890，信用卡4111111111111111已冻结",
    "服务器IP是192.168.1.1，访问www.example.cn了解，IBAN：DE89370400440532013000。",
    "电话010-65529988，传真0755-88886666，客服400-123-4567",
    "订单48213已于2024年3月18日发货，预计3到5天送达，价格299元。",
    "メールはtaro@example.jpです、電話は03-1234-5678",
    "전화 010-1234-5678 이메일 kim@example.kr",
    "",
    "      ",
    "line one\nline two john@example.com\n\n13800138000\n",
]

_ZH_FILLER = ["您好，", "请联系", "我的", "谢谢。", "，", "邮箱", "手机", "卡号", "身份证", "IP是"]
_EN_FILLER = ["Hi ", "call ", "my card ", " and ", ". ", ", ", "email: ", "(", ")", "\n"]


def _values(rng: random.Random) -> list[str]:
    body = "".join(rng.choice("0123456789") for _ in range(14))
    card = luhn_complete("4" + body)
    birth = f"{rng.randint(1950, 2005)}0{rng.randint(1, 9)}1{rng.randint(0, 9)}"
    id_body = rng.choice(["110105", "440305", "310101"]) + birth + f"{rng.randint(0, 999):03d}"
    return [
        f"user{rng.randint(1, 999)}@example.{rng.choice(['com', 'cn', 'org'])}",
        f"({rng.choice(['212', '415', '617'])}) {rng.randint(200, 999)}-{rng.randint(1000, 9999)}",
        f"1{rng.choice('3456789')}{rng.randint(0, 999999999):09d}",
        card, card[:-1] + str((int(card[-1]) + 1) % 10),
        " ".join(card[i:i + 4] for i in range(0, 16, 4)),
        luhn_complete("62" + "".join(rng.choice("0123456789") for _ in range(16))),
        id_body + cn_id_check_char(id_body),
        ".".join(str(rng.randint(0, 300)) for _ in range(4)),
        f"https://shop{rng.randint(1, 9)}.example.com/o/{rng.randint(1, 99)}",
        rng.choice(["DE89370400440532013000", "GB82 WEST 1234 5698 7654 32"]),
        f"{rng.randint(2000, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        str(rng.randint(0, 10**rng.randint(1, 12))),
    ]


def generated(n: int, seed: int = 7) -> list[str]:
    """Random mixes of PII values and filler, glued to CJK or Latin text on either side."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        filler = _ZH_FILLER if rng.random() < 0.5 else _EN_FILLER
        parts = []
        for _ in range(rng.randint(1, 5)):
            parts.append(rng.choice(filler))
            parts.append(rng.choice(_values(rng)))
        out.append("".join(parts))
    return out


@pytest.fixture(scope="module")
def engines():
    from dataforge.pii.engine import build_setup
    from dataforge.pii.entities import PATTERN_ENTITIES
    from dataforge.pii.fast import FastAnalyzer

    setup = build_setup()
    entities = {lang: [e for e in PATTERN_ENTITIES if e in setup.supported(lang)]
                for lang in ("en", "zh")}
    return setup, entities, FastAnalyzer(setup, entities)


def _compare(engines, texts: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    from dataforge.pii.engine import text_languages
    from dataforge.pii.reference import analyzer_findings, anonymizer_spans
    from dataforge.pii.resolve import resolve_conflicts

    setup, entities, fast = engines
    series = pl.Series(texts, dtype=pl.String)
    languages = text_languages(series)
    key = ["text_id", "start", "end", "entity_type", "score"]
    theirs, raw = analyzer_findings(setup, series, languages, entities)
    ours = fast.analyze(series, languages)
    assert ours.select(key).sort(key).to_dicts() == theirs.select(key).sort(key).to_dicts()
    spans_key = ["text_id", "start", "end", "entity_type"]
    their_spans = anonymizer_spans(series, raw)
    our_spans = resolve_conflicts(ours, series)
    assert our_spans.select(spans_key).sort(spans_key).to_dicts() == \
        their_spans.select(spans_key).sort(spans_key).to_dicts()
    return ours, our_spans


def test_edge_cases_identical_findings_and_spans(engines):
    findings, spans = _compare(engines, EDGE_CASES)
    types = set(findings["entity_type"])
    # the corpus exercises every pattern entity, and conflicts (URL inside e-mail, phone
    # and mobile on one span) that the resolution has to settle
    assert types >= {"EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IP_ADDRESS", "URL",
                     "IBAN_CODE", "CN_MOBILE", "CN_ID_CARD", "CN_BANK_CARD"}
    assert findings.height > spans.height


def test_generated_corpus_identical_findings_and_spans(engines):
    findings, _ = _compare(engines, generated(300))
    assert findings.height > 300


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(EDGE_CASES[:25] + _ZH_FILLER + _EN_FILLER), min_size=1, max_size=4))
def test_any_concatenation_of_cases_identical(engines, pieces):
    _compare(engines, ["".join(pieces)])


#: Code that presidio's stock IP/URL patterns read as addresses, and addresses next to it.
CODE_CASES = [
    "Use slicing, `items[::-1]`, or call `items.reverse()` to reverse the list in place.",
    "self.assertEqual(a, b); os.path.join(root, name); np.random.seed(0); xs[1::2]; a::b",
    "std::vector<int> v; f :: Int -> Int; 12:30:45; 00:1a:2b:3c:4d:5e; df.at[0]; app.run()",
    "代码items[::-1]和items.reverse()，用self.assertEqual断言，module.py里xs[::2]",
]
ADDRESS_CASES = [
    "2001:db8::1, ::1, fe80::1%eth0, [::1]:8080, listen [::]:80, ::/0, ff02::1",
    "example.com, docs.python.org/3/, baidu.com, example.cn, 'example.co.uk', t.me/x",
    "服务器2001:db8::1，访问baidu.com或example.cn查看",
]


def test_code_identical_findings_and_no_ip_or_url(engines):
    findings, _ = _compare(engines, CODE_CASES)
    assert not set(findings["entity_type"]) & {"IP_ADDRESS", "URL"}
    findings, _ = _compare(engines, ADDRESS_CASES)
    assert (findings["entity_type"] == "IP_ADDRESS").sum() == 8
    assert (findings["entity_type"] == "URL").sum() >= 8


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(CODE_CASES + ADDRESS_CASES + _ZH_FILLER + _EN_FILLER),
                min_size=1, max_size=4))
def test_any_concatenation_of_code_and_addresses_identical(engines, pieces):
    _compare(engines, ["".join(pieces)])


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abcdefiomnrstwxyzCIO0189:.[]()/_-%'\" 邮箱")),
               max_size=30))
def test_address_like_noise_identical(engines, text):
    """Gates of the IP/URL patterns are necessary conditions: no match is ever skipped."""
    _compare(engines, [text])


def test_replacement_equals_presidio_anonymizer_placeholders(engines):
    from presidio_anonymizer import AnonymizerEngine
    from presidio_anonymizer.entities import ConflictResolutionStrategy, OperatorConfig

    from dataforge.pii.engine import text_languages
    from dataforge.pii.entities import DEFAULT_LABELS
    from dataforge.pii.reference import analyzer_findings
    from dataforge.pii.render import apply_spans, replacements
    from dataforge.pii.resolve import resolve_conflicts

    setup, entities, fast = engines
    texts = EDGE_CASES + generated(100, seed=11)
    series = pl.Series(texts, dtype=pl.String)
    languages = text_languages(series)
    spans = resolve_conflicts(fast.analyze(series, languages), series)
    ours = apply_spans(series, replacements(spans, series, DEFAULT_LABELS)).to_list()
    _, raw = analyzer_findings(setup, series, languages, entities)
    operators = {e: OperatorConfig("replace", {"new_value": f"<{label}>"})
                 for e, label in DEFAULT_LABELS.items()}
    anonymizer = AnonymizerEngine()
    strategy = ConflictResolutionStrategy.REMOVE_INTERSECTIONS
    theirs = [
        anonymizer.anonymize(t, raw[i], operators=operators, conflict_resolution=strategy).text
        if i in raw else t
        for i, t in enumerate(texts)
    ]
    assert ours == theirs
    assert sum(a != b for a, b in zip(ours, texts)) > 50


def test_prepass_skips_only_texts_without_findings(engines):
    from dataforge.pii.engine import text_languages
    from dataforge.pii.reference import analyzer_findings, candidates

    setup, entities, _ = engines
    texts = EDGE_CASES + generated(100, seed=3) + ["plain words only", "纯中文没有数字"]
    series = pl.Series(texts, dtype=pl.String)
    languages = text_languages(series)
    mask = candidates(setup, series, languages, entities)
    findings, _ = analyzer_findings(setup, series, languages, entities)
    assert set(findings["text_id"]) <= set(mask.arg_true())
    assert not mask[len(texts) - 1] and not mask[len(texts) - 2]
