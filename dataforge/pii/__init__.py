"""PII detection and masking behind the ``pii.mask`` op (``dataforge/ops/pii.py``).

One job per module:

* ``entities``       entity names, placeholder labels, defaults (no presidio import)
* ``checksums``      Luhn, GB 11643 resident-ID check, full-width digit folding
* ``cjk``            CJK-aware ``\\w``/``\\b`` rewriting of presidio's patterns
* ``phone``          PHONE_NUMBER: digit-run regex + libphonenumber validation
* ``recognizers_net`` IP_ADDRESS and URL: presidio's patterns made to leave code alone
  (``items[::-1]``, ``items.reverse()``), used instead of presidio's
* ``recognizers_zh`` CN_MOBILE, CN_ID_CARD, CN_BANK_CARD and the zh copies of presidio's
  email/card recognizers and of our IP/URL ones
* ``engine``         the offline AnalyzerEngine (no_op or spaCy NLP), language routing
* ``fast``           the same findings, vectorized: gates in polars, then the recognizers'
  own regexes and validators without the analyzer's per-text machinery
* ``resolve``        presidio's dedup and the anonymizer's conflict resolution in polars
* ``reference``      presidio's AnalyzerEngine + AnonymizerEngine per text (``engine:
  presidio``, and the oracle the tests compare the fast path with)
* ``render``         placeholders / per-record pseudonyms, vectorized replacement
* ``columns``        texts out of message lists (and tool-call JSON) and back, via Arrow

Nothing is imported here, so ``import dataforge.pii`` stays free of presidio.
"""
