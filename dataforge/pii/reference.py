"""The reference path: presidio's AnalyzerEngine and AnonymizerEngine, one text at a time.

``engine: presidio`` in ``pii.mask`` runs this; tests and ``bench/pii.py`` compare the
fast path with it. The anonymizer runs with the ``keep`` operator, so its output items
are exactly the spans it resolved (REMOVE_INTERSECTIONS, merging same-type neighbours
separated by spaces) in input coordinates; rendering placeholders or pseudonyms is then
shared with the fast path.

The one shortcut: texts in which no recognizer's gate matches skip the analyzer (a polars
pre-pass with the gates combined into one regex). Gates are necessary conditions for a
match, so this changes no result; it is off for languages with a NER model, which must
read every text.
"""

from __future__ import annotations

from typing import Iterable

import polars as pl
from . import presidio_import  # noqa: F401  (first: presidio without torch)
from presidio_analyzer import RecognizerResult
from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import ConflictResolutionStrategy, OperatorConfig

from .engine import PiiSetup
from .fast import any_gate, gate_for
from .resolve import FINDINGS_SCHEMA, empty_findings

_ANONYMIZER = AnonymizerEngine()
_KEEP = {"DEFAULT": OperatorConfig("keep")}


def combined_gate(setup: PiiSetup, language: str, entities: list[str]) -> str | None:
    """One regex any text with a pattern match contains (None: no pre-pass possible)."""
    if language in setup.ner_languages:
        return None
    recognizers = setup.analyzer.registry.get_recognizers(language=language, entities=entities)
    return any_gate([gate_for(r) for r in recognizers])


def candidates(
    setup: PiiSetup, texts: pl.Series, languages: pl.Series, entities: dict[str, list[str]]
) -> pl.Series:
    """Boolean mask of texts that must reach the analyzer."""
    mask = pl.Series(values=[False] * len(texts), dtype=pl.Boolean)
    for lang, ents in entities.items():
        if not ents:
            continue
        in_lang = languages == lang
        gate = combined_gate(setup, lang, ents)
        hit = in_lang if gate is None else in_lang & texts.str.contains(gate).fill_null(False)
        mask = mask | hit
    return mask


def analyzer_findings(
    setup: PiiSetup,
    texts: pl.Series,
    languages: pl.Series,
    entities: dict[str, list[str]],
    score_threshold: float = 0.0,
    ids: Iterable[int] | None = None,
) -> tuple[pl.DataFrame, dict[int, list[RecognizerResult]]]:
    """``AnalyzerEngine.analyze`` on each text (only ``ids`` when given): findings frame
    and the raw results per text (for the anonymizer)."""
    text_list, lang_list = texts.to_list(), languages.to_list()
    raw: dict[int, list[RecognizerResult]] = {}
    rows = []
    for i in range(len(text_list)) if ids is None else ids:
        ents = entities.get(lang_list[i])
        if not ents:
            continue
        results = setup.analyzer.analyze(
            text_list[i], lang_list[i], entities=ents, score_threshold=score_threshold
        )
        if results:
            raw[i] = results
            rows.extend((i, r.start, r.end, r.entity_type, r.score) for r in results)
    frame = pl.DataFrame(rows, schema=list(FINDINGS_SCHEMA), orient="row").cast(FINDINGS_SCHEMA)
    return frame, raw


def anonymizer_spans(texts: pl.Series, raw: dict[int, list[RecognizerResult]]) -> pl.DataFrame:
    """Spans ``AnonymizerEngine.anonymize`` replaces (REMOVE_INTERSECTIONS, merged)."""
    text_list = texts.to_list()
    rows = []
    for i, results in raw.items():
        out = _ANONYMIZER.anonymize(
            text_list[i], results, operators=_KEEP,
            conflict_resolution=ConflictResolutionStrategy.REMOVE_INTERSECTIONS,
        )
        rows.extend((i, it.start, it.end, it.entity_type, it.score) for it in out.items)
    if not rows:
        return empty_findings()
    frame = pl.DataFrame(rows, schema=list(FINDINGS_SCHEMA), orient="row").cast(FINDINGS_SCHEMA)
    return frame.sort(["text_id", "start"])


def presidio_spans(
    setup: PiiSetup,
    texts: pl.Series,
    languages: pl.Series,
    entities: dict[str, list[str]],
    score_threshold: float = 0.0,
) -> pl.DataFrame:
    """Spans to mask, the presidio way (pre-pass, then analyzer + anonymizer per text)."""
    ids = candidates(setup, texts, languages, entities).arg_true().to_list()
    _, raw = analyzer_findings(setup, texts, languages, entities, score_threshold, ids)
    return anonymizer_spans(texts, raw)
