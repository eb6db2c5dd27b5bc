"""Recognizers of pii.mask on the real presidio AnalyzerEngine (no mocks, no model).

Every entity is checked in English and in Chinese text, through presidio's analyzer and
through the fast path; check digits (Luhn, GB 11643) decide what is flagged.
"""

from __future__ import annotations

import datetime as dt

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from dataforge.pii.checksums import cn_id_check_char, cn_id_valid, luhn_complete, luhn_valid
from dataforge.pii.cjk import cjk_aware

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def setup():
    from dataforge.pii.engine import build_setup

    return build_setup()


@pytest.fixture(scope="module")
def find(setup):
    """text -> {(entity, matched text)} from presidio's AnalyzerEngine and from the fast
    path; asserts both agree, so every test below checks both engines."""
    import polars as pl

    from dataforge.pii.engine import text_languages
    from dataforge.pii.entities import PATTERN_ENTITIES
    from dataforge.pii.fast import FastAnalyzer

    entities = {lang: [e for e in PATTERN_ENTITIES if e in setup.supported(lang)]
                for lang in ("en", "zh")}
    fast = FastAnalyzer(setup, entities)

    def run(text: str) -> set[tuple[str, str]]:
        series = pl.Series([text])
        lang = text_languages(series)[0]
        slow = {(r.entity_type, text[r.start:r.end])
                for r in setup.analyzer.analyze(text, lang, entities=entities[lang])}
        found = fast.analyze(series, text_languages(series))
        quick = {(e, text[s:t]) for s, t, e in found.select("start", "end", "entity_type").rows()}
        assert quick == slow, text
        return slow

    return run


# -- check digits ----------------------------------------------------------------------


def test_luhn_accepts_known_cards_and_rejects_any_single_digit_change():
    for number in ["4111111111111111", "5500005555555559", "378282246310005", "6011111111111117"]:
        assert luhn_valid(number)
        for pos in range(len(number)):
            for d in "0123456789":
                if d != number[pos]:
                    assert not luhn_valid(number[:pos] + d + number[pos + 1:])


def test_luhn_folds_full_width_digits_and_separators():
    assert luhn_valid("４１１１ １１１１ １１１１ １１１１")
    assert luhn_valid("4111-1111-1111-1111")
    assert not luhn_valid("")


def test_luhn_complete_makes_valid_numbers():
    for body in ["411111111111111", "62220212345678901", "123"]:
        full = luhn_complete(body)
        assert full.startswith(body) and len(full) == len(body) + 1 and luhn_valid(full)


def test_cn_id_checksum_birth_date_and_province():
    assert cn_id_valid("11010519491231002X")  # the GB 11643 example number
    assert cn_id_valid("11010519491231002x")
    assert cn_id_valid("１１０１０５１９４９１２３１００２Ｘ")
    for wrong in "0123456789":
        assert not cn_id_valid("11010519491231002" + wrong)
    body = "11010519490230002"  # 30 February: right check char, impossible date
    assert not cn_id_valid(body + cn_id_check_char(body))
    body = "99010519491231002"  # no province 99
    assert not cn_id_valid(body + cn_id_check_char(body))
    future = (dt.date.today() + dt.timedelta(days=400)).strftime("%Y%m%d")
    body = "110105" + future + "002"
    assert not cn_id_valid(body + cn_id_check_char(body))
    body = "440305200001015678"[:17]
    assert cn_id_valid(body + cn_id_check_char(body))
    assert not cn_id_valid("1101051949123100")  # too short


# -- CJK-aware boundaries ----------------------------------------------------------------

def _assert_cjk_aware_matches_alike(patterns, text: str) -> None:
    """Each pattern and its ``cjk_aware`` rewrite find the same spans in ``text``."""
    flags = regex.DOTALL | regex.MULTILINE | regex.IGNORECASE
    for p in patterns:
        ours = [m.span() for m in regex.finditer(cjk_aware(p.regex), text, flags=flags)]
        theirs = [m.span() for m in regex.finditer(p.regex, text, flags=flags)]
        assert ours == theirs, (p.name, text)


_LATIN = st.text(
    alphabet=st.sampled_from(list("abcxyzABCXé0123456789@.-_:+/ '\"%!#&*=?^`{|}~\n")),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(_LATIN)
def test_cjk_aware_patterns_match_like_presidio_on_text_without_cjk(text):
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer, EmailRecognizer, IpRecognizer,
    )

    for cls in (EmailRecognizer, CreditCardRecognizer, IpRecognizer):
        _assert_cjk_aware_matches_alike(cls.PATTERNS, text)


_NETISH = st.text(
    alphabet=st.sampled_from(list("abcdefimorstwxyzABCFIOX0123456789:.[]()/_-@%'\" \n,;")),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(_NETISH)
def test_cjk_aware_ip_and_url_patterns_match_ours_on_text_without_cjk(text):
    from dataforge.pii.recognizers_net import IP_PATTERNS, URL_PATTERNS

    _assert_cjk_aware_matches_alike(IP_PATTERNS + URL_PATTERNS, text)


def test_cjk_aware_rewrites_classes_and_refuses_what_it_cannot():
    assert regex.fullmatch(cjk_aware(r"[:\w]+"), "ab:c")
    assert not regex.search(cjk_aware(r"\w"), "邮箱")
    assert regex.search(cjk_aware(r"\bab\b"), "邮箱ab电话")
    assert not regex.search(r"\bab\b", "邮箱ab电话")  # why the rewrite exists
    with pytest.raises(ValueError):
        cjk_aware(r"[^\w]")
    with pytest.raises(ValueError):
        cjk_aware(r"\Bx")


# -- entities, English and Chinese ---------------------------------------------------


def test_email_in_english_and_chinese(find):
    assert ("EMAIL_ADDRESS", "john.smith@example.com") in find("Mail john.smith@example.com now.")
    zh = find("请联系邮箱zhangwei@example.cn或者lisi@corp.example.com，谢谢")
    assert ("EMAIL_ADDRESS", "zhangwei@example.cn") in zh
    assert ("EMAIL_ADDRESS", "lisi@corp.example.com") in zh
    assert not any(e == "EMAIL_ADDRESS" and "邮" in v for e, v in zh)


def test_presidio_stock_email_swallows_chinese_which_the_zh_setup_fixes(setup):
    from presidio_analyzer.predefined_recognizers import EmailRecognizer

    text = "邮箱zhangwei@example.cn"
    stock = [text[r.start:r.end] for r in EmailRecognizer().analyze(text, ["EMAIL_ADDRESS"])]
    assert stock == ["邮箱zhangwei@example.cn"]
    ours = setup.analyzer.analyze(text, "zh", entities=["EMAIL_ADDRESS"])
    assert [text[r.start:r.end] for r in ours] == ["zhangwei@example.cn"]


def test_phone_numbers_in_english_and_chinese(find):
    en = find("Call (212) 555-0187, +44 20 7946 0958 or 020 7946 0958 before 5.")
    for value in ["(212) 555-0187", "+44 20 7946 0958", "020 7946 0958"]:
        assert ("PHONE_NUMBER", value) in en
    zh = find("座机010-65529988，国外同事+1 415 555 2671。")
    assert ("PHONE_NUMBER", "010-65529988") in zh
    assert ("PHONE_NUMBER", "+1 415 555 2671") in zh


def test_dates_ips_versions_and_cards_are_not_phones(find):
    found = find("On 2024-03-18 10:30 version 2.4.1 hit 192.168.100.200; card 4111 1111 1111 1112.")
    assert not any(e == "PHONE_NUMBER" for e, _ in found)


def test_chinese_mobile_formats_and_full_width_digits(find):
    text = "手机13800138000，或138 0013 8000，或+86-138-0013-8000，或１３９１２３４５６７８。"
    found = {v for e, v in find(text) if e == "CN_MOBILE"}
    assert found == {"13800138000", "138 0013 8000", "+86-138-0013-8000", "１３９１２３４５６７８"}
    assert ("CN_MOBILE", "13800138000") in find("My number in China is 13800138000.")
    assert not any(e == "CN_MOBILE" for e, _ in find("订单号1238001380001234"))  # inside a longer run


def test_chinese_id_checksum_decides(find):
    body = "44030519900307123"
    check = cn_id_check_char(body)
    good, bad = body + check, body + str((int(check.replace("X", "10")) + 1) % 10)
    assert ("CN_ID_CARD", good) in find(f"身份证号{good}，请核对。")
    assert ("CN_ID_CARD", good) in find(f"Passenger ID {good}.")
    assert not any(e == "CN_ID_CARD" for e, _ in find(f"身份证号{bad}，请核对。"))
    assert ("CN_ID_CARD", "11010519491231002X") in find("身份证：11010519491231002X")


def test_bank_and_credit_cards_need_luhn(find):
    unionpay19 = luhn_complete("621700" + "123456789012")
    grouped = " ".join(luhn_complete("622202" + "123456789")[i:i + 4] for i in range(0, 16, 4))
    bad = unionpay19[:-1] + str((int(unionpay19[-1]) + 1) % 10)
    zh = find(f"退款到银行卡{unionpay19}，或储蓄卡{grouped}；错的卡号{bad}。")
    assert ("CN_BANK_CARD", unionpay19) in zh
    assert ("CN_BANK_CARD", grouped) in zh
    assert not any(bad in v for _, v in zh)
    assert ("CN_BANK_CARD", unionpay19) in find(f"Refund to UnionPay {unionpay19} please.")
    en = find("Visa 4111 1111 1111 1111 is fine, 4111 1111 1111 1112 is not.")
    assert ("CREDIT_CARD", "4111 1111 1111 1111") in en
    assert not any("1112" in v for _, v in en)
    assert ("CREDIT_CARD", "4111111111111111") in find("信用卡4111111111111111已冻结")


def test_luhn_invalid_numbers_are_never_flagged_in_any_format(find):
    for body in ["411111111111111", "550000555555555", "622202123456789012"]:
        valid = luhn_complete(body)
        number = body + str((int(valid[-1]) + 1) % 10)
        assert not luhn_valid(number)
        for text in [f"card {number} thanks", f"卡号{number}。",
                     "card " + " ".join(number[i:i + 4] for i in range(0, len(number), 4))]:
            assert find(text) == set(), text


@pytest.mark.parametrize("shape", ["plain", "4-4-4-4", "amex"])
@pytest.mark.parametrize("body", ["37828224631000", "34000000000000", "411111111111111", "62220212345678901"])
def test_card_shaped_luhn_invalid_numbers_are_nothing_at_all(find, body, shape):
    """Not a card (Luhn fails), and not a phone either: a 15-digit number starting 37 is a
    mistyped Amex, not a German landline (presidio's regions read it as one)."""
    valid = luhn_complete(body)
    number = body + str((int(valid[-1]) + 1) % 10)
    if shape == "4-4-4-4":
        number = " ".join(number[i:i + 4] for i in range(0, len(number), 4))
    elif shape == "amex":
        number = f"{number[:4]} {number[4:10]} {number[10:]}"  # 4-6-5 (4-6-N for the others)
    for text in [f"Reference number {number} is on the receipt.", f"单号{number}，请核对。",
                 f"The tracking code was {number}, not mine."]:
        assert find(text) == set(), text


def test_a_phone_number_is_masked_whole_or_not_at_all(find):
    # +1 with an unassigned area code: invalid as a whole, so "556 852 1066" inside it
    # (a valid national number in some region) must not be found either
    for text in ["The number +1 556 852 1066 on the flyer never answers.", "传单上的+1 911 624 5088打不通。",
                 "call 001 556 852 1066 now"]:
        assert not any(e == "PHONE_NUMBER" for e, _ in find(text)), text
    assert not any(e == "PHONE_NUMBER" for e, _ in find("ref 6222 021234 56789013"))  # part of a longer number
    assert ("PHONE_NUMBER", "+1 415 555 2671") in find("Call +1 415 555 2671 now.")
    assert ("PHONE_NUMBER", "001 415 555 2671") in find("Call 001 415 555 2671 now.")
    two = find("Call 415-555-2671 or 212-555-0187.")
    assert {v for e, v in two if e == "PHONE_NUMBER"} == {"415-555-2671", "212-555-0187"}


def test_phone_regions_follow_the_text_language(find):
    """English text is read with English-speaking regions, Chinese text with Chinese ones;
    a number with its country code is found in both."""
    en = find("London 020 7946 0958, Toronto (416) 555-0123, Munich 089 12345678.")
    assert {v for e, v in en if e == "PHONE_NUMBER"} == {"020 7946 0958", "(416) 555-0123"}
    assert ("PHONE_NUMBER", "+49 89 12345678") in find("Munich +49 89 12345678.")
    zh = find("座机010-65529988，香港电话2345 6789，伦敦+44 20 7946 0958。")
    assert {v for e, v in zh if e == "PHONE_NUMBER"} == {"010-65529988", "2345 6789", "+44 20 7946 0958"}


def test_phone_regions_option_replaces_the_language_default():
    import polars as pl

    from dataforge.ops.pii import PiiMask
    from dataforge.schemas.record import from_dicts, message

    records = from_dicts([{"id": "a", "messages": [message("user", "Munich 089 12345678, London 020 7946 0958.")]}])
    default = PiiMask()(records).kept["messages"][0][0]["content"]
    german = PiiMask(phone_regions=["DE"])(records).kept["messages"][0][0]["content"]
    assert default == "Munich 089 12345678, London <PHONE>."
    assert german == "Munich <PHONE>, London 020 7946 0958."
    assert isinstance(records, pl.DataFrame)


def test_ip_url_iban_in_english_and_chinese(find):
    en = find("Host 10.0.0.12 and 2001:db8::8a2e:370:7334 serve https://www.example.com/a to "
              "pay DE89 3704 0044 0532 0130 00.")
    assert {("IP_ADDRESS", "10.0.0.12"), ("IP_ADDRESS", "2001:db8::8a2e:370:7334"),
            ("URL", "https://www.example.com/a"),
            ("IBAN_CODE", "DE89 3704 0044 0532 0130 00")} <= en
    zh = find("服务器IP是192.168.1.1，访问www.example.cn了解，汇款到DE89370400440532013000。")
    assert {("IP_ADDRESS", "192.168.1.1"), ("URL", "www.example.cn"),
            ("IBAN_CODE", "DE89370400440532013000")} <= zh
    assert not any(e == "IBAN_CODE" for e, _ in find("IBAN DE89 3704 0044 0532 0130 01"))


def test_phone_regions_are_validated(setup):
    from dataforge.pii.phone import PhoneNumberRecognizer

    with pytest.raises(ValueError):
        PhoneNumberRecognizer(regions=["XX"])
    us_only = PhoneNumberRecognizer(regions=["US"])
    text = "London 020 7946 0958, New York (212) 555-0187"
    assert [text[r.start:r.end] for r in us_only.analyze(text, [])] == ["(212) 555-0187"]


# -- code and prose are not addresses ---------------------------------------------------

#: Code and prose that presidio's stock IP/URL patterns flag (``items[<IP>-1]``,
#: ``<URL>verse()``): none of it may come out as IP_ADDRESS or URL.
NOT_ADDRESSES = [
    "Use slicing, `items[::-1]`, to get a reversed copy, or call `items.reverse()` to "
    "reverse the list in place.",
    "self.assertEqual(a, b); os.path.join(root, name); np.random.seed(0)",
    "evens = xs[::2]; odds = xs[1::2]; tail = xs[10::]; grid[:, ::2]; copy = xs[::]",
    "a::b; std::vector<int> v; std::cout << x; Face::Add; Abc::Def; dead::beef;",
    "f :: Int -> Int\nmain :: IO ()",
    "At 12:30:45 the MAC 00:1a:2b:3c:4d:5e came up; 03:12 again.",
    "x.is_valid; torch.cuda.is_available(); tf.io.gfile.exists(p); df.at[0, 'a']",
    "app.run(debug=True); model.to(device); item.at(0); data.info(); logging.info('x')",
    "user.name = obj.id; self.ai = Player(); dtype=np.int; x = s.re",
    "Edit setup.py, config.md, MANIFEST.in, run.sh and main.rs; see d['user.name'].",
    "using System.Net; using System.IO; ASP.NET Core; import scipy.io as sio",
    "I did it.It was fine, e.g. this. Node.js and Vue.js, version 2.4.1.",
    "代码items[::-1]会返回反转的副本，items.reverse()原地反转，self.assertEqual用来断言。",
    "切片xs[1::2]取奇数位，时间12:30:45，std::vector<int>是容器。",
]

#: Real addresses: (text, expected (entity, value) findings).
ADDRESSES = [
    ("Host 10.0.0.12 and 2001:db8::8a2e:370:7334.",
     {("IP_ADDRESS", "10.0.0.12"), ("IP_ADDRESS", "2001:db8::8a2e:370:7334")}),
    ("Try 2001:db8::1, ::1 (loopback), fe80::1%eth0 and ff02::1.",
     {("IP_ADDRESS", "2001:db8::1"), ("IP_ADDRESS", "::1"), ("IP_ADDRESS", "fe80::1%eth0"),
      ("IP_ADDRESS", "ff02::1")}),
    ("Open http://[::1]:8080/ or http://[fe80::1]/ and listen [::]:80; route ::/0.",
     {("IP_ADDRESS", "::1"), ("IP_ADDRESS", "fe80::1"), ("IP_ADDRESS", "::"),
      ("IP_ADDRESS", "::/0")}),
    ("Mapped ::ffff:192.0.2.128 and prefix 2001:db8::/32.",
     {("IP_ADDRESS", "::ffff:192.0.2.128"), ("IP_ADDRESS", "2001:db8::/32")}),
    ("See example.com, docs.python.org/3/ and baidu.com or example.cn.",
     {("URL", "example.com"), ("URL", "docs.python.org/3/"), ("URL", "baidu.com"),
      ("URL", "example.cn")}),
    # a path ends before sentence punctuation and before Chinese (presidio's took both)
    ("See https://x.com/a, then www.example.org/b/c. Or example.io/d?q=1!",
     {("URL", "https://x.com/a"), ("URL", "www.example.org/b/c"), ("URL", "example.io/d?q=1")}),
    ("请访问www.example.cn/help查看订单，或者https://example.com/a/b。服务器10.0.0.1坏了",
     {("URL", "www.example.cn/help"), ("URL", "https://example.com/a/b"), ("IP_ADDRESS", "10.0.0.1")}),
    ("见www.example.cn/faq，或https://example.com/a？还有example.io/x：完",
     {("URL", "www.example.cn/faq"), ("URL", "https://example.com/a"), ("URL", "example.io/x")}),
    ("Go to https://www.example.com/a?q=1 or www.test.org, example.io/docs or t.me/chan",
     {("URL", "https://www.example.com/a?q=1"), ("URL", "www.test.org"),
      ("URL", "example.io/docs"), ("URL", "t.me/chan")}),
    ("Blog at username.github.io, API on example.com:8080/api or https://example.technology/x",
     {("URL", "username.github.io"), ("URL", "example.com:8080/api"),
      ("URL", "https://example.technology/x")}),
    ("服务器IP是192.168.1.1和2001:db8::1，地址fe80::1%eth0。",
     {("IP_ADDRESS", "192.168.1.1"), ("IP_ADDRESS", "2001:db8::1"),
      ("IP_ADDRESS", "fe80::1%eth0")}),
    ("访问baidu.com查看，官网example.cn上有说明，或者www.example.cn了解。",
     {("URL", "baidu.com"), ("URL", "example.cn"), ("URL", "www.example.cn")}),
    ("文档在docs.python.org/3/ 和 https://example.com/a 。",
     {("URL", "docs.python.org/3/"), ("URL", "https://example.com/a")}),
]


@pytest.mark.parametrize("text", NOT_ADDRESSES)
def test_code_and_prose_are_not_ips_or_urls(find, text):
    found = find(text)
    assert not {(e, v) for e, v in found if e in ("IP_ADDRESS", "URL")}, text


@pytest.mark.parametrize("text,expected", ADDRESSES)
def test_real_ips_and_urls_are_still_found(find, text, expected):
    found = {(e, v) for e, v in find(text) if e in ("IP_ADDRESS", "URL")}
    assert found == expected, text


def test_presidio_stock_ip_and_url_flag_code_which_ours_do_not(setup):
    from presidio_analyzer.predefined_recognizers import IpRecognizer, UrlRecognizer

    text = "Use `items[::-1]` or `items.reverse()`."
    stock = {text[r.start:r.end] for rec in (IpRecognizer(), UrlRecognizer())
             for r in rec.analyze(text, ["IP_ADDRESS", "URL"])}
    assert stock == {"::", "items.re"}  # why our recognizers exist
    assert setup.analyzer.analyze(text, "en", entities=["IP_ADDRESS", "URL"]) == []
