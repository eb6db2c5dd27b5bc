"""Entity names, placeholder labels and defaults: what a config may name, without presidio.

Kept apart from ``engine.py`` so validating an op config (or listing ops) does not pay
for importing presidio, which imports transformers when it is installed (seconds).
"""

from __future__ import annotations

LANGUAGES: tuple[str, ...] = ("en", "zh")

#: Entities found by patterns + validators: no NLP model needed.
PATTERN_ENTITIES: tuple[str, ...] = (
    "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IP_ADDRESS", "URL", "IBAN_CODE",
    "CN_MOBILE", "CN_ID_CARD", "CN_BANK_CARD",
)
#: Entities a spaCy NER model adds (presidio's names for spaCy's labels).
NER_ENTITIES: tuple[str, ...] = ("PERSON", "LOCATION", "ORGANIZATION", "NRP", "DATE_TIME")

#: Placeholder label per entity: ``<PHONE>`` for both phone recognizers, and so on.
DEFAULT_LABELS: dict[str, str] = {
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "CN_MOBILE": "PHONE",
    "CREDIT_CARD": "CREDIT_CARD",
    "CN_BANK_CARD": "BANK_CARD",
    "CN_ID_CARD": "ID_CARD",
    "IP_ADDRESS": "IP",
    "URL": "URL",
    "IBAN_CODE": "IBAN",
    "PERSON": "PERSON",
    "LOCATION": "LOCATION",
    "ORGANIZATION": "ORG",
    "NRP": "NRP",
    "DATE_TIME": "DATE",
}

#: presidio's default phone regions, plus CN for landlines (mobiles also have CN_MOBILE).
DEFAULT_PHONE_REGIONS: tuple[str, ...] = ("US", "GB", "DE", "FR", "IL", "IN", "BR", "CN")
