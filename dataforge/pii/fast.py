"""The fast path: presidio's recognizers without presidio's per-text machinery.

``AnalyzerEngine.analyze`` costs about 1 ms a text even when the text holds nothing: it
runs the NLP engine, every recognizer's every pattern (with timing, logging and an
explanation object per match), a deep copy for context enhancement and two dedup passes.
This module finds the same results another way:

1. **Gates** (vectorized): every pattern has a cheap regex that any match of it must
   contain (``@`` for email, ``::`` for an IPv4-mapped address, ...). polars evaluates
   each gate over the whole column at once, so a pattern only ever sees texts that could
   hold a match.
2. **Scan**: for a plain ``PatternRecognizer``, each of its patterns, compiled with its
   own flags, runs on its gated texts, and its own ``validate_result``/``invalidate_result``
   decide the score, exactly as ``PatternRecognizer.analyze`` does. A recognizer with its
   own ``analyze`` (IBAN, phone) is called as is, on the gated texts only.
3. **Dedup** (vectorized): presidio's score threshold and ``remove_duplicates`` over all
   texts in one polars join (``resolve.remove_duplicates``).

NER recognizers (spaCy) are not re-implemented: their entities go through
``AnalyzerEngine.analyze`` restricted to them, on every text of a language with a model.
With a NER model loaded, presidio also boosts pattern scores by context words; the fast
path does not, so in that mode scores (never spans of pattern entities) can differ.
``tests/dataforge/pii/test_fast.py`` checks results are identical to the analyzer's on a corpus.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import polars as pl
import regex as re
from . import presidio_import  # noqa: F401  (first: presidio without torch)
from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    SpacyRecognizer,
)

from .engine import PiiSetup
from .resolve import FINDINGS_SCHEMA, remove_duplicates

#: Gates for the patterns of presidio's recognizers we register as they are (polars/Rust
#: regex), by pattern name: each is contained in every match of its pattern. Emails contain
#: ``@``; the card gate is presidio's card pattern without ``\b`` and lookahead; IBANs
#: start ``[A-Z]{2}[0-9]{2}`` (case-sensitive). The zh copies keep the pattern names. Our
#: recognizers carry ``GATE`` (one gate) or ``GATES`` (by pattern name: IP and URL).
STOCK_GATES: tuple[tuple[type, dict[str, str]], ...] = (
    (EmailRecognizer, {"Email (Medium)": "@"}),
    (
        CreditCardRecognizer,
        {"All Credit Cards (weak)":
         r"(?:4\d{3}|5[0-5]\d{2}|6\d{3}|1\d{3}|3\d{3})[- ]?\d{3,4}[- ]?\d{3,4}[- ]?\d{3,5}"},
    ),
    (IbanRecognizer, {"IBAN Generic": "[A-Z]{2}[0-9]{2}"}),
)


def pattern_gates(recognizer: PatternRecognizer) -> list[str | None]:
    """One gate per pattern of ``recognizer`` (None where none is known): its ``GATE``
    (one for all patterns), its ``GATES`` (by pattern name), or :data:`STOCK_GATES`."""
    own = getattr(recognizer, "GATE", None)
    table = getattr(recognizer, "GATES", None) or next(
        (g for cls, g in STOCK_GATES if isinstance(recognizer, cls)), {}
    )
    return [own or table.get(p.name) for p in recognizer.patterns]


def any_gate(gates: list[str | None]) -> str | None:
    """One regex matching where any of ``gates`` does; None if one of them is unknown."""
    if not gates or None in gates:
        return None
    return "|".join(f"(?:{g})" for g in dict.fromkeys(gates))


def gate_for(recognizer: EntityRecognizer) -> str | None:
    """One gate for the whole recognizer (any of its pattern gates), or None: then every
    text is scanned."""
    own = getattr(recognizer, "GATE", None)
    if own or not isinstance(recognizer, PatternRecognizer):
        return own
    return any_gate(pattern_gates(recognizer))


def _is_plain_pattern(recognizer: EntityRecognizer) -> bool:
    return (
        isinstance(recognizer, PatternRecognizer)
        and type(recognizer).analyze is PatternRecognizer.analyze
    )


def _overrides(recognizer: EntityRecognizer, method: str) -> bool:
    return getattr(type(recognizer), method) is not getattr(PatternRecognizer, method)


@dataclass
class _Findings:
    """Column buffers the scanners append to (one list per output column)."""

    text_id: list[int] = field(default_factory=list)
    start: list[int] = field(default_factory=list)
    end: list[int] = field(default_factory=list)
    entity_type: list[str] = field(default_factory=list)
    score: list[float] = field(default_factory=list)

    def add(self, i: int, start: int, end: int, entity: str, score: float) -> None:
        self.text_id.append(i)
        self.start.append(start)
        self.end.append(end)
        self.entity_type.append(entity)
        self.score.append(score)

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(
            {k: getattr(self, k) for k in FINDINGS_SCHEMA}, schema=FINDINGS_SCHEMA
        )


Scanner = Callable[[list[str], list[int], _Findings], None]


def _pattern_scanner(recognizer: PatternRecognizer, pattern: Pattern) -> Scanner:
    """One pattern of ``PatternRecognizer.analyze``, minus its bookkeeping, over many texts."""
    rx = re.compile(pattern.regex, flags=recognizer.global_regex_flags)
    base_score = pattern.score
    entity = recognizer.supported_entities[0]
    validate = recognizer.validate_result if _overrides(recognizer, "validate_result") else None
    invalidate = (
        recognizer.invalidate_result if _overrides(recognizer, "invalidate_result") else None
    )
    max_score, min_score = EntityRecognizer.MAX_SCORE, EntityRecognizer.MIN_SCORE

    def scan(texts: list[str], ids: list[int], out: _Findings) -> None:
        for i in ids:
            text = texts[i]
            for m in rx.finditer(text):
                start, end = m.span()
                if start == end:
                    continue
                score = base_score
                if validate is not None:
                    valid = validate(text[start:end])
                    if valid is not None:
                        score = max_score if valid else min_score
                if invalidate is not None and invalidate(text[start:end]):
                    score = min_score
                if score > min_score:
                    out.add(i, start, end, entity, score)

    return scan


def _delegating_scanner(recognizer: EntityRecognizer, entities: list[str]) -> Scanner:
    """A recognizer with its own ``analyze`` (IBAN, phone): call it, gated texts only."""

    def scan(texts: list[str], ids: list[int], out: _Findings) -> None:
        for i in ids:
            for r in recognizer.analyze(texts[i], entities, None):
                out.add(i, r.start, r.end, r.entity_type, r.score)

    return scan


class FastAnalyzer:
    """Same findings as ``setup.analyzer.analyze`` (no NER model: identical; see module doc)."""

    def __init__(
        self, setup: PiiSetup, entities: dict[str, list[str]], score_threshold: float = 0.0
    ) -> None:
        self.setup = setup
        self.score_threshold = score_threshold
        self._scanners: dict[str, list[tuple[str | None, Scanner]]] = {}
        self._ner_entities: dict[str, list[str]] = {}
        registry = setup.analyzer.registry
        for lang, ents in entities.items():
            if not ents:
                continue
            scanners, ner = [], set()
            for rec in registry.get_recognizers(language=lang, entities=ents):
                if isinstance(rec, SpacyRecognizer):
                    ner.update(set(rec.supported_entities) & set(ents))
                elif _is_plain_pattern(rec):
                    for pattern, gate in zip(rec.patterns, pattern_gates(rec)):
                        scanners.append((gate, _pattern_scanner(rec, pattern)))
                else:
                    scanners.append((gate_for(rec), _delegating_scanner(rec, ents)))
            self._scanners[lang] = scanners
            self._ner_entities[lang] = sorted(ner)

    def analyze(self, texts: pl.Series, languages: pl.Series) -> pl.DataFrame:
        """Findings (text_id = position in ``texts``) after threshold and dedup."""
        text_list = texts.to_list()
        out = _Findings()
        gates = list(dict.fromkeys(
            g for scanners in self._scanners.values() for g, _ in scanners if g is not None
        ))
        # every gate over the whole column in one parallel polars pass
        gate_masks = pl.DataFrame({"t": texts}).select(
            pl.col("t").str.contains(g).fill_null(False).alias(str(k))
            for k, g in enumerate(gates)
        ).to_numpy() if gates else np.zeros((len(texts), 0), dtype=bool)
        column = {g: k for k, g in enumerate(gates)}
        for lang, scanners in self._scanners.items():
            in_lang = (languages == lang).to_numpy()
            if not in_lang.any():
                continue
            for gate, scan in scanners:
                mask = in_lang if gate is None else in_lang & gate_masks[:, column[gate]]
                scan(text_list, np.flatnonzero(mask).tolist(), out)
            ner = self._ner_entities.get(lang)
            if ner:
                analyze = self.setup.analyzer.analyze
                for i in np.flatnonzero(in_lang).tolist():
                    for r in analyze(text_list[i], lang, entities=ner,
                                     score_threshold=self.score_threshold):
                        out.add(i, r.start, r.end, r.entity_type, r.score)
        findings = out.frame().filter(pl.col("score") >= self.score_threshold)
        return remove_duplicates(findings)
