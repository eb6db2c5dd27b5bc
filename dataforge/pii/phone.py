"""Phone numbers: a cheap candidate regex, then libphonenumber decides.

Why not presidio's ``PhoneRecognizer``: it runs ``phonenumbers.PhoneNumberMatcher`` once
per region (8 by default) over every text, and for a text holding any long digit run (a
card, an ID, an IBAN, a date) the matcher tries dozens of inner sub-matches per region:
1.5-5 ms per text, an order of magnitude more than every other recognizer together.

This recognizer finds runs of digits and phone punctuation once, drops runs that cannot be
a phone number by length, date, IP or card shape (:func:`_card_shaped`), and only then
asks ``phonenumbers`` whether the run (or a run of its digit groups) is a valid number:
international when it starts with ``+`` or ``00``, else national in each configured
region whose number patterns can match (checked with the region's own metadata regexes
first, which saves most ``parse`` calls). Validity is memoized, so a hotline that appears
ten thousand times is parsed once.

A number is masked whole or not at all: the first number of a run must start at the run's
start, so when ``+1 556 852 1066`` is not valid as a whole no national number is looked
for inside it (no ``+1 <PHONE>``), and a run whose numbers would leave more than a few of
its digits uncovered is part of something longer and yields none. The regions are per language (:data:`~.entities.PHONE_REGIONS`):
English text is read with English-speaking regions' formats, Chinese text with Chinese
ones; a fixed list of many regions reads too many other numbers as somebody's phone.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Iterable

import phonenumbers
import regex as re
from . import presidio_import  # noqa: F401  (first: presidio without torch)
from presidio_analyzer import LocalRecognizer, RecognizerResult

from ..errors import ConfigError
from .checksums import ascii_digits
from .entities import PHONE_REGIONS

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
#: Digits after a run's numbers that may stay uncovered ("call 415-555-2671 24 hours").
_MAX_LEFTOVER = 3


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


def _card_shaped(sizes: list[int], international: bool) -> bool:
    """Whether a digit run with these group sizes is written like a payment card or a bank
    account number: 13-19 digits in one group (not after ``+``/``00``), in groups of four
    (``4-4-4-4``, ``4-4-4-4-3``), or Amex/Diners style (``4-6-5``, ``4-6-4``). Such a run
    is never read as a phone number, Luhn-valid or not: a 15-digit Luhn-invalid number
    starting 37 is a mistyped Amex, not a German landline."""
    total = sum(sizes)
    if total >= 14 and sum(n == 4 for n in sizes) >= 3:
        return True
    if sizes in ([4, 6, 5], [4, 6, 4]):
        return True
    return len(sizes) == 1 and 13 <= total <= 19 and not international


class PhoneNumberRecognizer(LocalRecognizer):
    """PHONE_NUMBER via a digit-run regex and ``phonenumbers`` validation (see module doc)."""

    ENTITY = "PHONE_NUMBER"
    SCORE = 0.5
    #: Necessary condition (polars/Rust regex): seven digits joined only by punctuation.
    GATE = r"\d(?:" + _SEP + r"*\d){6}"
    CONTEXT = ["phone", "number", "telephone", "cell", "mobile", "call", "tel", "电话", "手机"]

    def __init__(
        self,
        regions: Iterable[str] | None = None,
        supported_language: str = "en",
        name: str | None = None,
    ) -> None:
        self.regions = tuple(regions) if regions is not None else PHONE_REGIONS[supported_language]
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
        international = text[run_start] in "+＋" or text.startswith("00", run_start)
        if _DOTTED_QUAD.search(text, run_start, run_end) or _card_shaped(sizes, international):
            return []  # an IP; a card, IBAN or bank account (valid or not): no phone inside
        found: list[tuple[int, int]] = []
        tries, i, covered = 0, 0, 0
        while i < len(groups) and tries < _MAX_TRIES:
            if not found and i > 0:
                # "+1 556 852 1066", "020 7946 0958" read in DE: the run's first groups are
                # not part of any number, so no number inside the run is this one
                break
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
                    covered += sum(sizes[i : j + 1])
                    match_end = j
                    break
            i = match_end + 1 if match_end >= 0 else i + 1
        if sum(sizes) - covered > _MAX_LEFTOVER:
            return []  # "6222 021234 56789013": part of a longer number, not a phone inside it
        return found
