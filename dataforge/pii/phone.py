"""Phone numbers: a cheap candidate regex, then libphonenumber decides.

Why not presidio's ``PhoneRecognizer``: it runs ``phonenumbers.PhoneNumberMatcher`` once
per region (8 by default) over every text, and for a text holding any long digit run (a
card, an ID, an IBAN, a date) the matcher tries dozens of inner sub-matches per region:
1.5-5 ms per text, an order of magnitude more than every other recognizer together.

This recognizer finds runs of digits and phone punctuation once, drops runs that cannot be
a phone number by length, date, IP or card-like (14+ digits in 4-digit groups) shape,
and only then asks ``phonenumbers`` whether the run (or a run of its digit groups) is a
valid number: international when it starts with ``+`` or ``00``, else national in each
configured region whose number patterns can match (checked with the region's own
metadata regexes first, which saves most ``parse`` calls). Validity is memoized, so a
hotline that appears ten thousand times is parsed once.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Iterable

import phonenumbers
import regex as re
from presidio_analyzer import LocalRecognizer, RecognizerResult

from ..errors import ConfigError
from .checksums import ascii_digits
from .entities import DEFAULT_PHONE_REGIONS

_SEP = r"[ .\-()（）]"
#: A run of 7+ digits with phone punctuation; not glued to a preceding letter, digit or
#: symbol that would make it part of something else (abc8005001234, v1.2, user@123).
_RUN = re.compile(r"(?<![\dA-Za-z_+＋@/.])[+＋]?[(（]?\d(?:" + _SEP + r"*\d){6,}")
_DIGITS = re.compile(r"\d+")
_DATE_LIKE = re.compile(
    r"(?:1[89]|20)\d\d[-/.]\d\d?[-/.]\d\d?|\d\d?[-/.]\d\d?[-/.](?:1[89]|20)?\d\d"
)
_DOTTED_QUAD = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
#: A run that is exactly a mainland mobile number (see CnMobileRecognizer).
_CN_MOBILE_RUN = re.compile(
    r"(?:(?:[+＋]|00)?(?:86|８６)[ \-]?)?[1１][3-9３-９]\d(?:[ \-]?\d{4}){2}"
)
_MIN_DIGITS, _MAX_DIGITS = 7, 15
_MAX_TRIES = 12


_NUMBER_TYPES = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number",
                 "pager", "uan", "voicemail", "fixed_line", "mobile")


@lru_cache(maxsize=None)
def _region_rules(region: str) -> tuple[re.Pattern | None, re.Pattern, list[re.Pattern], bool]:
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if meta is None:
        raise ConfigError(f"unknown phone region {region!r}")
    prefix = meta.national_prefix_for_parsing
    types = [getattr(meta, t) for t in _NUMBER_TYPES]
    return (
        re.compile(prefix) if prefix else None,
        re.compile(meta.general_desc.national_number_pattern),
        [re.compile(d.national_number_pattern) for d in types if d and d.national_number_pattern],
        bool(meta.national_prefix_transform_rule),
    )


def _may_be_valid(digits: str, region: str) -> bool:
    """Cheap necessary condition for validity in ``region``: the national number (the
    digits, or the digits after the national prefix) matches the region's general pattern
    and one of its number-type patterns, which is what ``is_valid_number`` checks. Saves
    a ~100 us ``parse`` for every region a number cannot belong to."""
    prefix, general, types, transformed = _region_rules(region)
    if transformed:
        return True
    national = [digits]
    m = prefix.match(digits) if prefix else None
    if m and m.end():
        national.append(digits[m.end():])
    return any(
        general.fullmatch(n) and any(t.fullmatch(n) for t in types) for n in national
    )


@lru_cache(maxsize=1 << 16)
def is_valid_phone(candidate: str, regions: tuple[str, ...]) -> bool:
    """Whether ``candidate`` is a valid number (international, or national in a region)."""
    digits = ascii_digits(candidate)
    plus = candidate.lstrip("(（")[:1] in ("+", "＋")
    if plus or digits.startswith("00"):
        return _parses_valid("+" + (digits if plus else digits[2:]), None)
    return any(
        _may_be_valid(digits, region) and _parses_valid(candidate, region) for region in regions
    )


def _parses_valid(number: str, region: str | None) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(number, region))
    except phonenumbers.NumberParseException:
        return False


class PhoneNumberRecognizer(LocalRecognizer):
    """PHONE_NUMBER via a digit-run regex and ``phonenumbers`` validation (see module doc)."""

    ENTITY = "PHONE_NUMBER"
    SCORE = 0.5
    #: Necessary condition (polars/Rust regex): seven digits joined only by punctuation.
    GATE = r"\d(?:" + _SEP + r"*\d){6}"
    CONTEXT = ["phone", "number", "telephone", "cell", "mobile", "call", "tel", "电话", "手机"]

    def __init__(
        self,
        regions: Iterable[str] = DEFAULT_PHONE_REGIONS,
        supported_language: str = "en",
        name: str | None = None,
    ) -> None:
        self.regions = tuple(regions)
        for region in self.regions:
            _region_rules(region)  # fail early on a typo
        super().__init__(
            supported_entities=[self.ENTITY],
            supported_language=supported_language,
            name=name or f"PhoneNumberRecognizer_{supported_language}",
            context=self.CONTEXT,
        )

    def load(self) -> None:  # noqa: D102 - nothing to load
        pass

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: object = None
    ) -> list[RecognizerResult]:
        """Every valid phone number in ``text`` (non-overlapping, left to right).

        When CN_MOBILE is requested too, a run that is exactly a mainland mobile number is
        left to that recognizer (it would win the span anyway): half the libphonenumber
        work on Chinese text.
        """
        results = []
        leave_mobiles = "CN_MOBILE" in (entities or ())
        for run in _RUN.finditer(text):
            if leave_mobiles and _CN_MOBILE_RUN.fullmatch(run.group()):
                continue
            for start, end in self._numbers_in_run(text, run.start(), run.end()):
                results.append(
                    RecognizerResult(self.ENTITY, start, end, self.SCORE,
                                     recognition_metadata={
                                         RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                                         RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                                     })
                )
        return results

    def _numbers_in_run(self, text: str, run_start: int, run_end: int) -> list[tuple[int, int]]:
        """Longest valid numbers made of consecutive digit groups of one run."""
        if run_end < len(text) and text[run_end].isascii() and text[run_end].isalpha():
            return []  # 8005001234def: part of an identifier, as phonenumbers also rules
        groups = [m.span() for m in _DIGITS.finditer(text, run_start, run_end)]
        sizes = [e - s for s, e in groups]
        if _DOTTED_QUAD.search(text, run_start, run_end) or (
            sum(sizes) >= 14 and sum(n == 4 for n in sizes) >= 3
        ):
            return []  # an IP; a grouped card, IBAN or bank account: no phone inside
        found: list[tuple[int, int]] = []
        tries, i = 0, 0
        while i < len(groups) and tries < _MAX_TRIES:
            start = run_start if i == 0 else groups[i][0]
            if i and text[start - 1] in "(（":
                start -= 1
            match_end = -1
            for j in range(len(groups) - 1, i - 1, -1):
                n = sum(sizes[i : j + 1])
                if n > _MAX_DIGITS:
                    continue
                if n < _MIN_DIGITS or tries >= _MAX_TRIES:
                    break
                candidate = text[start : groups[j][1]]
                if _DATE_LIKE.search(candidate):
                    continue
                tries += 1
                if is_valid_phone(candidate, self.regions):
                    found.append((start, groups[j][1]))
                    match_end = j
                    break
            i = match_end + 1 if match_end >= 0 else i + 1
        return found
