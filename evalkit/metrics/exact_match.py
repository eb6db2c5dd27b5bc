"""Exact match / accuracy after a composable list of normalizers.

A normalizer list is applied, in order, to both prediction and reference:

* ``strip``, ``lowercase``, ``collapse_whitespace``;
* ``remove_punct``: every Unicode punctuation character (so Chinese ，。！？「」《》 too) plus
  the ASCII symbols of ``string.punctuation`` (SQuAD's normalizer removes those);
* ``extract:number`` (or ``{"extract": "number"}``): the *last* number in the text, as a
  float: ``1,234.5``, ``-3``, ``.5``, ``3/4`` and ``\\frac{3}{4}``; a GSM8K reference
  ``... #### 72`` gives 72. Numbers compare with ``math.isclose`` (relative and absolute
  ``tolerance``), so ``0.75`` equals ``3/4``;
* ``extract:choice``: a choice letter A-E from "The answer is (B)", "Answer: B", "答案是B",
  "答案：（C）", "选D", a bare "B." or, failing those, the last "(B)" in the text. Fullwidth
  forms are folded (NFKC) first.

An extractor must come last. When nothing can be extracted the example counts as wrong
(also when both sides fail), and ``extra`` counts such examples for each side. Rows
without a reference are left out (None per example).

``accuracy`` is the same computation under the name used for classification and
multiple-choice tasks.
"""

from __future__ import annotations

import functools
import math
import re
import string
import sys
import unicodedata
from typing import Any, Callable, Sequence

from ._common import mean, scatter, signature, version, with_references
from .base import MetricInputs, MetricResult, register_metric

Normalizer = Callable[[str], str]
Extractor = Callable[[str], Any]


@functools.cache
def _punctuation_table() -> dict[int, None]:
    """str.translate table deleting Unicode punctuation and ASCII symbols (built on first use)."""
    table: dict[int, None] = {ord(c): None for c in string.punctuation}
    for code in range(sys.maxunicode + 1):
        if unicodedata.category(chr(code)).startswith("P"):
            table[code] = None
    return table


def remove_punct(text: str) -> str:
    return text.translate(_punctuation_table())


NORMALIZERS: dict[str, Normalizer] = {
    "strip": str.strip,
    "lowercase": str.lower,
    "remove_punct": remove_punct,
    "collapse_whitespace": lambda text: " ".join(text.split()),
}

_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+"
_NUMBER = re.compile(
    rf"\\d?frac\{{\s*(?P<fsign>-?)\s*(?P<fnum>{_NUM})\s*\}}\{{\s*(?P<fden>{_NUM})\s*\}}"
    rf"|(?:(?<![\w)])(?P<sign>[-−]))?(?P<num>{_NUM})(?:\s*/\s*(?P<den>{_NUM}))?"
)


def _to_float(number: str) -> float:
    return float(number.replace(",", ""))


def extract_number(text: str) -> float | None:
    """The last number in ``text`` as a float (None when there is none)."""
    match = None
    for match in _NUMBER.finditer(text):
        pass
    if match is None:
        return None
    if match["fnum"] is not None:
        sign, numerator, denominator = match["fsign"], match["fnum"], match["fden"]
    else:
        sign, numerator, denominator = match["sign"], match["num"], match["den"]
    value = _to_float(numerator)
    if denominator is not None:
        if _to_float(denominator) == 0:
            return None
        value /= _to_float(denominator)
    return -value if sign else value


_LETTER = r"\(?\[?\s*([A-E])(?![A-Za-z])"
_CHOICE_PATTERNS = (
    re.compile(rf"(?i:answer)\s*(?:(?i:is)|:)?\s*:?\s*{_LETTER}"),
    re.compile(rf"答案\s*(?:是|为|應為|应为|:)?\s*:?\s*{_LETTER}"),
    re.compile(rf"选(?:择|項|项)?\s*{_LETTER}"),
    re.compile(r"^\s*\(?\[?([A-E])[)\]]?[.。:]?\s*$"),
    re.compile(r"\(([A-E])\)"),
)


def extract_choice(text: str) -> str | None:
    """The answer letter A-E (None when there is none); the last match of the first pattern."""
    folded = unicodedata.normalize("NFKC", text)
    for pattern in _CHOICE_PATTERNS:
        found = pattern.findall(folded)
        if found:
            return found[-1]
    return None


EXTRACTORS: dict[str, Extractor] = {"number": extract_number, "choice": extract_choice}


NormalizerSpec = str | dict[str, str]


def parse_normalizers(
    specs: Sequence[NormalizerSpec],
) -> tuple[list[str], list[Normalizer], Extractor | None]:
    """Names, string normalizers and the optional final extractor of a normalizer list."""
    names: list[str] = []
    steps: list[Normalizer] = []
    extractor: Extractor | None = None
    for spec in specs:
        if isinstance(spec, dict):
            (key, value), = spec.items()
            spec = f"{key}:{value}"
        key, _, value = (part.strip() for part in spec.partition(":"))
        if extractor is not None:
            raise ValueError(f"normalizer {spec!r} after an extractor; extract must come last")
        if key == "extract":
            if value not in EXTRACTORS:
                raise ValueError(f"unknown extractor {value!r}; known: {', '.join(EXTRACTORS)}")
            extractor = EXTRACTORS[value]
            names.append(f"extract-{value}")
        elif key in NORMALIZERS and not value:
            steps.append(NORMALIZERS[key])
            names.append(key)
        else:
            known = ", ".join([*NORMALIZERS, *(f"extract:{e}" for e in EXTRACTORS)])
            raise ValueError(f"unknown normalizer {spec!r}; known: {known}")
    return names, steps, extractor


def _same(a: Any, b: Any, tolerance: float) -> bool:
    if a is None or b is None:
        return False
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance)
    return a == b


def _match(
    name: str, inputs: MetricInputs, normalizers: Sequence[NormalizerSpec], tolerance: float
) -> MetricResult:
    names, steps, extractor = parse_normalizers(normalizers)

    def normalize(text: str) -> Any:
        for step in steps:
            text = step(text)
        return extractor(text) if extractor else text

    rows, raw_predictions, raw_golds = with_references(inputs, name)
    predictions = [normalize(p) for p in raw_predictions]
    golds = [normalize(r) for r in raw_golds]
    correct = [float(_same(p, g, tolerance)) for p, g in zip(predictions, golds)]
    per_example = scatter(len(inputs.predictions), rows, correct)
    extra = {}
    if extractor is not None:
        extra = {
            "unextracted_predictions": sum(p is None for p in predictions),
            "unextracted_references": sum(g is None for g in golds),
        }
    return MetricResult(
        name=name,
        score=mean(per_example),
        signature=signature(
            norm="+".join(names) or "none",
            **({"tol": tolerance} if extractor is extract_number else {}),
            posttrain=version("posttrain"),
        ),
        per_example=per_example,
        extra=extra,
    )


@register_metric("exact_match")
def exact_match(
    inputs: MetricInputs,
    *,
    normalizers: Sequence[NormalizerSpec] = ("strip",),
    tolerance: float = 1e-9,
) -> MetricResult:
    """Share of predictions equal to their reference after ``normalizers``."""
    return _match("exact_match", inputs, normalizers, tolerance)


@register_metric("accuracy")
def accuracy(
    inputs: MetricInputs,
    *,
    normalizers: Sequence[NormalizerSpec] = ("strip",),
    tolerance: float = 1e-9,
) -> MetricResult:
    """``exact_match`` for classification / multiple choice (e.g. ``["extract:choice"]``)."""
    return _match("accuracy", inputs, normalizers, tolerance)
