"""PII values for the benchmarks: realistic planted entities and Luhn-invalid decoys.

Shared by ``bench/pii.py`` (short customer-service sentences) and ``bench/corpus.py``
(the realistic ShareGPT corpus): every maker returns a value its recognizer must find,
``bad_card`` / ``decoy_*`` values that no recognizer may mask.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

import phonenumbers

from dataforge.pii.checksums import cn_id_check_char, luhn_complete, luhn_valid

# -- values --------------------------------------------------------------------------

FIRST = ["john", "mary", "wei", "li.na", "carlos", "aisha", "zhang.wei", "emma", "raj", "yuki"]
LAST = ["smith", "chen", "garcia", "wang", "patel", "mueller", "liu", "brown", "kim", "zhao"]
DOMAINS = ["example.com", "mail.example.org", "corp.example.cn", "shop.example.io", "qq.com",
           "163.com", "example.co.uk"]
AREA = ["212", "415", "312", "617", "206", "303", "512", "646", "718", "202"]
CN_PROVINCES = ["11", "31", "44", "32", "33", "51", "42", "61"]

EN_TEMPLATES = {
    "EMAIL": ["Please send the invoice to {} by Friday.", "You can email me at {} anytime.",
              "My work address changed to {}, please update the CRM."],
    "PHONE": ["Call me at {} after 5pm, thanks.", "The hotline is {} (Mon-Fri).",
              "Reach our London office on {} if the portal is down."],
    "CREDIT_CARD": ["My card number is {}, expiring 09/27.", "Charge it to {} please.",
                    "The payment with card {} failed twice yesterday."],
    "IP": ["The server {} keeps timing out since the last deploy.",
           "Requests from {} were blocked by the firewall at 03:12."],
    "URL": ["Docs are at {} - see section 3.", "I found the answer on {} last night."],
    "IBAN": ["Wire the refund to IBAN {}, reference 2291.", "Our account: {}."],
    "CN_MOBILE": ["My Chinese number is {}, WeChat uses the same."],
    "CN_ID_CARD": ["The passenger's ID number is {}."],
    "BANK_CARD": ["Please refund to my UnionPay card {}."],
}
ZH_TEMPLATES = {
    "EMAIL": ["请把发票发到我的邮箱{}，谢谢。", "邮箱{}，有问题随时联系。"],
    "PHONE": ["国外的同事电话是{}，白天可以打。"],
    "CREDIT_CARD": ["我的信用卡号{}，有效期到27年9月。"],
    "IP": ["服务器IP是{}，昨天开始无法访问。", "来自{}的请求被防火墙拦截了。"],
    "URL": ["官网{}上有详细说明。", "请访问{}查看订单。"],
    "IBAN": ["请汇款到IBAN账户{}。"],
    "CN_MOBILE": ["您好，我的手机号是{}，请尽快回电。", "收货人电话{}，送到前台即可。",
                  "联系方式：{}（微信同号）"],
    "CN_ID_CARD": ["身份证号：{}，姓名张伟。", "我的身份证{}已经过期了，怎么办？"],
    "BANK_CARD": ["退款请打到我的银行卡{}，谢谢。", "卡号{}，开户行是招商银行。"],
}
DECOY = {"en": "I typed {} as my card by mistake, is that a problem?",
         "zh": "我把卡号填成了{}，是不是填错了？"}
CLEAN = {
    "en": ["The order #48213 shipped on 2024-03-18 and should arrive within 3-5 days.",
           "We moved the meeting to 10:30 because 4 of the 12 attendees were late.",
           "The new plan costs $29.99 a month, or $299 a year.",
           "Version 2.4.1 fixed the crash reported in ticket 10234.",
           "Thanks a lot for your patience, the team is looking into it right now."],
    "zh": ["订单48213已于2024年3月18日发货，预计3到5天送达。",
           "新套餐每月29元，包年299元，优惠后249元。",
           "会议改到10:30，12个人里有4个迟到了。",
           "谢谢您的耐心等待，我们正在处理。",
           "版本2.4.1修复了工单10234里报告的崩溃问题。"],
}


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _group(number: str, rng: random.Random, sizes=(4,)) -> str:
    style = rng.choice(["plain", "space", "dash"])
    if style == "plain":
        return number
    sep = " " if style == "space" else "-"
    parts, i = [], 0
    while i < len(number):
        parts.append(number[i : i + sizes[0]])
        i += sizes[0]
    return sep.join(parts)


def email(rng):
    user = rng.choice(FIRST) + rng.choice([".", "_", ""]) + rng.choice(LAST)
    user += str(rng.randint(1, 99))
    return user + "@" + rng.choice(DOMAINS)


def phone(rng):
    while True:
        kind = rng.choice(["us1", "us2", "us3", "intl_us", "uk", "uk_nat", "de"])
        if kind.startswith("us") or kind == "intl_us":
            a, b, c = rng.choice(AREA), str(rng.randint(200, 999)), _digits(rng, 4)
            text = {"us1": f"({a}) {b}-{c}", "us2": f"{a}-{b}-{c}", "us3": f"{a}.{b}.{c}",
                    "intl_us": f"+1 {a} {b} {c}"}[kind]
            region = "US"
        elif kind == "uk":
            text, region = f"+44 20 7{_digits(rng, 3)} {_digits(rng, 4)}", "GB"
        elif kind == "uk_nat":
            text, region = f"020 7{_digits(rng, 3)} {_digits(rng, 4)}", "GB"
        else:
            text, region = f"+49 30 {_digits(rng, 7)}", "DE"
        if phonenumbers.is_valid_number(phonenumbers.parse(text, region)):
            return text


def card(rng):
    prefix = rng.choice(["4", "51", "52", "55", "6011"])
    number = luhn_complete(prefix + _digits(rng, 15 - len(prefix)))
    return _group(number, rng)


def bad_card(rng):
    number = luhn_complete("4" + _digits(rng, 14))
    wrong = number[:-1] + str((int(number[-1]) + rng.randint(1, 9)) % 10)
    return _group(wrong, rng)


def decoy_card(rng):
    """A Luhn-invalid number shaped like a card: Visa/Mastercard 16 digits (grouped or
    not), Amex 15 digits starting 34/37 (plain or 4-6-5), UnionPay 19 digits starting 62."""
    kind = rng.choice(["visa", "amex", "amex", "unionpay"])
    prefix, length = {"visa": (rng.choice(["4", "51", "55"]), 16), "amex": (rng.choice(["34", "37"]), 15),
                      "unionpay": ("62", 19)}[kind]
    number = prefix + _digits(rng, length - len(prefix))
    while luhn_valid(number):
        number = number[:-1] + str((int(number[-1]) + 1) % 10)
    if kind == "amex" and rng.random() < 0.4:
        return f"{number[:4]} {number[4:10]} {number[10:]}"
    return number if kind == "unionpay" or rng.random() < 0.5 else _group(number, rng)


def decoy_phone(rng):
    """A +1 number whose area code does not exist (5xx/9xx unassigned, N11): invalid as a
    whole, so no part of it may be masked either (no ``+1 <PHONE>``)."""
    while True:
        text = f"+1 {rng.choice(['556', '555', '911', '959', '370'])} {rng.randint(200, 999)} {_digits(rng, 4)}"
        if not phonenumbers.is_valid_number(phonenumbers.parse(text, None)):
            return text


DECOYS = {"card": decoy_card, "phone": decoy_phone}


def cn_mobile(rng):
    number = "1" + rng.choice("3456789") + _digits(rng, 9)
    style = rng.choice(["plain", "space", "dash", "intl"])
    if style == "space":
        return f"{number[:3]} {number[3:7]} {number[7:]}"
    if style == "dash":
        return f"{number[:3]}-{number[3:7]}-{number[7:]}"
    if style == "intl":
        return "+86 " + number
    return number


def cn_id(rng):
    birth = f"{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    body = rng.choice(CN_PROVINCES) + _digits(rng, 4) + birth + _digits(rng, 3)
    return body + cn_id_check_char(body)


def cn_bank(rng):
    length = rng.choice([16, 19])
    number = luhn_complete("62" + _digits(rng, length - 3))
    return number if length == 19 or rng.random() < 0.5 else _group(number, rng)


def ip(rng):
    if rng.random() < 0.15:
        return "2001:db8:" + ":".join(f"{rng.randint(1, 65535):x}" for _ in range(3)) + "::1"
    return ".".join(str(rng.randint(1, 254)) for _ in range(4))


def url(rng):
    return rng.choice([
        f"https://www.example-shop.com/orders/{rng.randint(1000, 99999)}",
        f"docs.example.org/guide/{rng.choice(['install', 'faq', 'billing'])}",
        f"http://status.example.net/incidents/{rng.randint(1, 999)}",
        "www.example.cn/help",
    ])


def _iban(country: str, bban: str) -> str:
    rearranged = bban + country + "00"
    numeric = "".join(str(int(ch, 36)) for ch in rearranged)
    return f"{country}{98 - int(numeric) % 97:02d}{bban}"


def iban(rng):
    if rng.random() < 0.5:
        code = _iban("DE", _digits(rng, 18))
    else:
        code = _iban("GB", "NWBK" + _digits(rng, 14))
    return " ".join(code[i : i + 4] for i in range(0, len(code), 4)) if rng.random() < 0.5 else code


MAKERS = {"EMAIL": email, "PHONE": phone, "CREDIT_CARD": card, "IP": ip, "URL": url,
          "IBAN": iban, "CN_MOBILE": cn_mobile, "CN_ID_CARD": cn_id, "BANK_CARD": cn_bank}
#: Planted kind -> labels of findings that count as finding it.
ACCEPT = {"EMAIL": {"EMAIL"}, "PHONE": {"PHONE"}, "CREDIT_CARD": {"CREDIT_CARD", "BANK_CARD"},
          "IP": {"IP"}, "URL": {"URL"}, "IBAN": {"IBAN"}, "CN_MOBILE": {"PHONE"},
          "CN_ID_CARD": {"ID_CARD"}, "BANK_CARD": {"BANK_CARD", "CREDIT_CARD"}}


@dataclass
class Plant:
    text_id: int
    kind: str
    start: int
    end: int


