"""Reading answers out of model text: normalizers, the final number, the choice letter,
the ``\\boxed{}`` / ``####`` final answer, and tolerant comparison.

Pure text functions shared by the verifiers (best-of-K scoring, GRPO rewards) and by
evalkit's ``exact_match`` / ``accuracy`` metrics, so a reward and a metric never disagree
on what the model answered.

* ``strip``, ``lowercase``, ``collapse_whitespace``;
* ``remove_punct``: every Unicode punctuation character (so Chinese ，。！？「」《》 too) plus
  the ASCII symbols of ``string.punctuation`` (SQuAD's normalizer removes those);
* ``extract:number``: the *last* number in the text, as a float: ``1,234.5``, ``-3``, ``.5``,
  ``3/4`` and ``\\frac{3}{4}``; a GSM8K reference ``... #### 72`` gives 72;
* ``extract:choice``: a choice letter A-E from "The answer is (B)", "Answer: B", "答案是B",
  "答案：（C）", "选D", a bare "B." or, failing those, the last "(B)" in the text. Fullwidth
  forms are folded (NFKC) first;
* ``extract:final``: the final answer of a math solution: the last ``\\boxed{...}``
  (nested braces kept), else the text after the last ``####``, else the whole text; then
  read as a number when it is one (see :func:`final_answer`).
"""

from __future__ import annotations

import functools
import math
import re
import string
import sys
import unicodedata
from typing import Any, Callable, Sequence

from ..errors import ConfigError

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
            raise ConfigError(f"normalizer {spec!r} after an extractor; extract must come last")
        if key == "extract":
            if value not in EXTRACTORS:
                raise ConfigError(f"unknown extractor {value!r}; known: {', '.join(EXTRACTORS)}")
            extractor = EXTRACTORS[value]
            names.append(f"extract-{value}")
        elif key in NORMALIZERS and not value:
            steps.append(NORMALIZERS[key])
            names.append(key)
        else:
            known = ", ".join([*NORMALIZERS, *(f"extract:{e}" for e in EXTRACTORS)])
            raise ConfigError(f"unknown normalizer {spec!r}; known: {known}")
    return names, steps, extractor


def _same(a: Any, b: Any, tolerance: float) -> bool:
    if a is None or b is None:
        return False
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance)
    return a == b


_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_HASHES = re.compile(r"####\s*(.+?)\s*$", re.DOTALL)


def boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` in ``text`` (balanced braces), or None."""
    starts = [m.end() for m in _BOXED.finditer(text)]
    for start in reversed(starts):
        depth = 1
        for i in range(start, len(text)):
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    return text[start:i].strip()
    return None


def final_answer(text: str) -> float | str | None:
    """The final answer of a solution: ``\\boxed{}`` (last), else after ``####`` (GSM8K),
    else the last number in the text. A number when the answer reads as one (``72``,
    ``1,234``, ``3/4``, ``\\frac{3}{4}``, ``-0.5``), otherwise the answer text with
    whitespace collapsed (``x+1``); None when there is no answer at all."""
    for candidate in (boxed(text), _after_hashes(text)):
        if candidate is None:
            continue
        number = _whole_number(candidate)
        if number is not None:
            return number
        return " ".join(candidate.replace("$", "").split()) or None
    return extract_number(text)


def _after_hashes(text: str) -> str | None:
    found = _HASHES.findall(text)
    return found[-1].splitlines()[0].strip() if found else None


def _whole_number(text: str) -> float | None:
    """``text`` as a number when the number is all there is (``$``, ``%`` and LaTeX
    spacing allowed), else None."""
    cleaned = re.sub(r"\\?[$%]|\\[!,;]", "", text).strip().rstrip(".。")
    cleaned = re.sub(r"\\(?:text|mathrm|textbf)\{([^}]*)\}", r"\1", cleaned)
    cleaned = re.sub(r"\s+", " ", cleaned).strip()
    match = _NUMBER.fullmatch(cleaned)
    return extract_number(cleaned) if match else None


EXTRACTORS["final"] = final_answer


def same_answer(a: Any, b: Any, tolerance: float = 1e-9) -> bool:
    """Equal answers: numbers within ``tolerance`` (relative and absolute), else equal values."""
    return _same(a, b, tolerance)


def normalize_with(specs: Sequence[NormalizerSpec]) -> tuple[list[str], Callable[[str], Any], Extractor | None]:
    """(names, normalize function, extractor) of a normalizer list, for reuse over many texts."""
    names, steps, extractor = parse_normalizers(specs)

    def normalize(text: str) -> Any:
        for step in steps:
            text = step(text)
        return extractor(text) if extractor else text

    return names, normalize, extractor
