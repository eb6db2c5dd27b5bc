"""Chinese PII recognizers, and the zh copies of presidio's pattern recognizers.

Chinese identifiers sit directly against Han characters (``手机13800138000``,
``卡号6222...``), so none of these patterns uses ``\\b``: they bound numbers by "no digit
before / after" instead. Digits may be full-width (``１３８...``); the patterns accept both
forms and the validators fold them, so spans stay aligned with the original text.

Scores are chosen so that two entity types never tie on the same span (presidio breaks
such ties in hash order, which varies between processes): an 18-digit number that is a
valid ID and passes Luhn is an ID (1.0) rather than a bank card (0.9), and a number that
is a Chinese mobile is CN_MOBILE (0.8) rather than the generic PHONE_NUMBER (0.5).

Each ``Cn*`` class carries ``GATE``: a polars (Rust) regex that every match must contain,
used to skip texts without a candidate before any Python runs (see ``fast.py``); the zh
copies use the gates of the recognizers they copy (same pattern names).
"""

from __future__ import annotations

from . import presidio_import  # noqa: F401  (first: presidio without torch)
from presidio_analyzer import Pattern, PatternRecognizer
from presidio_analyzer.predefined_recognizers import CreditCardRecognizer, EmailRecognizer

from .checksums import cn_id_valid, luhn_valid
from .cjk import cjk_aware
from .recognizers_net import StrictIpRecognizer, StrictUrlRecognizer

_D = "[0-9０-９]"
_D19 = "[1-9１-９]"
_NO_DIGIT_AFTER = "(?![0-9０-９])"


class _CnRecognizer(PatternRecognizer):
    """A Chinese-number recognizer, registered for both languages: the subclass sets
    ``ENTITY``, ``PATTERNS``, ``CONTEXT`` and ``GATE``; named ``<class>_<language>``."""

    ENTITY: str
    GATE: str

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity=self.ENTITY,
            name=f"{type(self).__name__}_{supported_language}",
            supported_language=supported_language,
            patterns=list(self.PATTERNS),
            context=self.CONTEXT,
        )


class CnMobileRecognizer(_CnRecognizer):
    """Mainland mobile numbers: 1[3-9] + 9 digits, optional +86/0086, spaces or dashes."""

    ENTITY = "CN_MOBILE"
    _BODY = f"[1１][3-9３-９]{_D}(?:[ \\-]?{_D}{{4}}){{2}}"
    PATTERNS = [
        Pattern(
            "CN mobile",
            f"(?<![0-9０-９+＋])(?:(?:[+＋]|00)?(?:86|８６)[ \\-]?)?{_BODY}{_NO_DIGIT_AFTER}",
            0.8,
        )
    ]
    GATE = _BODY
    CONTEXT = ["手机", "电话", "联系", "mobile", "phone", "tel"]


class CnIdCardRecognizer(_CnRecognizer):
    """Resident ID numbers (GB 11643): 17 digits + digit/X, checksum and birth date valid."""

    ENTITY = "CN_ID_CARD"
    _BODY = f"{_D19}{_D}{{5}} ?{_D}{{8}} ?{_D}{{3}}[0-9０-９XxＸｘ]"
    PATTERNS = [Pattern("CN resident ID", f"(?<![0-9０-９]){_BODY}{_NO_DIGIT_AFTER}", 0.5)]
    GATE = _BODY
    CONTEXT = ["身份证", "证件", "身份证号", "id"]

    def validate_result(self, pattern_text: str) -> bool:  # noqa: D102
        return cn_id_valid(pattern_text)


class CnBankCardRecognizer(_CnRecognizer):
    """Bank card numbers (UnionPay and others): 16-19 digits, Luhn valid.

    Validity goes through ``invalidate_result`` so a valid card keeps the pattern score
    (0.9) instead of presidio's 1.0: CREDIT_CARD (1.0) wins the same span in English-style
    text, an ID wins an 18-digit number that also passes Luhn.
    """

    ENTITY = "CN_BANK_CARD"
    PATTERNS = [
        Pattern(
            "bank card",
            f"(?<![0-9０-９])(?:{_D19}{_D}{{15,18}}"
            f"|{_D19}{_D}{{3}}(?:[ \\-]{_D}{{4}}){{3}}(?:[ \\-]?{_D}{{1,3}})?){_NO_DIGIT_AFTER}",
            0.9,
        )
    ]
    GATE = f"{_D19}{_D}{{3}}(?:[ \\-]?{_D}{{4}}){{3}}"
    CONTEXT = ["银行卡", "卡号", "账号", "储蓄卡", "信用卡", "card", "account"]

    def invalidate_result(self, pattern_text: str) -> bool:  # noqa: D102
        return not luhn_valid(pattern_text)


def _zh_patterns(patterns: list[Pattern]) -> list[Pattern]:
    return [Pattern(p.name, cjk_aware(p.regex), p.score) for p in patterns]


class _ZhCopy:
    """Mixin for the zh copies below: registered for ``zh`` only, named after the class
    (presidio's default); the recognizer's own ``__init__`` takes ``PATTERNS``/``CONTEXT``
    from the class."""

    def __init__(self) -> None:
        super().__init__(supported_language="zh")  # type: ignore[call-arg]


class ZhEmailRecognizer(_ZhCopy, EmailRecognizer):
    """presidio's email pattern with CJK-aware ``\\w``/``\\b``: ``邮箱a@b.cn`` -> ``a@b.cn``."""

    PATTERNS = _zh_patterns(EmailRecognizer.PATTERNS)
    CONTEXT = ["email", "邮箱", "邮件", "电子邮件"]


class ZhCreditCardRecognizer(_ZhCopy, CreditCardRecognizer):
    """presidio's card pattern (Luhn-validated) with ``\\b`` that fires next to Han."""

    PATTERNS = _zh_patterns(CreditCardRecognizer.PATTERNS)
    CONTEXT = ["信用卡", "银行卡", "卡号", "visa", "mastercard", "card"]


class ZhIpRecognizer(_ZhCopy, StrictIpRecognizer):
    """Our IPv4/IPv6 patterns (``recognizers_net.py``) with boundaries that fire next to Han."""

    PATTERNS = _zh_patterns(StrictIpRecognizer.PATTERNS)
    CONTEXT = ["ip", "ipv4", "ipv6", "地址", "服务器"]


class ZhUrlRecognizer(_ZhCopy, StrictUrlRecognizer):
    """Our URL patterns (``recognizers_net.py``) with host boundaries that fire next to
    Han: ``访问baidu.com查看`` -> ``baidu.com``."""

    PATTERNS = _zh_patterns(StrictUrlRecognizer.PATTERNS)
    CONTEXT = ["url", "website", "link", "网址", "网站", "链接", "官网"]
