"""Import presidio without torch and transformers (400 MB and seconds we never use).

``presidio_analyzer`` imports its Hugging Face NLP engine at package import, and that
imports ``transformers``, which imports ``torch``: about 400 MB of resident memory and
several seconds, for recognizers ``pii.mask`` never uses (its patterns need no model; its
NER uses spaCy; spaCy's thinc also imports torch when it can). presidio and thinc guard
those imports with ``except ImportError``, so while they are imported here ``torch`` and ``transformers`` are made unimportable (a ``None`` entry in
``sys.modules``), then restored: a later ``import torch`` (the transformers engine, the
eval stage) works as usual. Nothing changes when either is already imported.

Every module of this package that uses presidio imports this one first.
"""

from __future__ import annotations

import sys

_HEAVY = ("torch", "transformers")

if "presidio_analyzer" not in sys.modules:
    _blocked = [name for name in _HEAVY if name not in sys.modules]
    for _name in _blocked:
        sys.modules[_name] = None  # type: ignore[assignment]
    try:
        import spacy  # noqa: F401  (thinc: no torch layers, which spaCy's CNN pipelines never use)
        import presidio_analyzer  # noqa: F401
        import presidio_analyzer.predefined_recognizers  # noqa: F401
        import presidio_anonymizer  # noqa: F401
    finally:
        for _name in _blocked:
            if _name in sys.modules and sys.modules[_name] is None:
                del sys.modules[_name]
