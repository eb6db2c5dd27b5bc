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

#: Regions whose national phone formats are read, per text language (``pii.mask``'s
#: default; ``phone_regions`` replaces them for every language). Numbers written with a
#: country code (``+49 30 ...``) are found in any text. presidio's default, eight regions
#: for every text (US, GB, DE, FR, IL, IN, BR, CA), reads many other numbers as some
#: country's phone: a 15-digit mistyped card as a German landline, an order number as an
#: Indian mobile.
PHONE_REGIONS: dict[str, tuple[str, ...]] = {
    "en": ("US", "GB", "CA", "AU"),
    "zh": ("CN", "HK", "TW"),
}
