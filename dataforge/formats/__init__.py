"""Formats: read any supported file into the canonical record, and write it back out.

The public surface is :mod:`dataforge.formats.api` (``load``, ``iter_load``, ``read``,
``write``, ``open_writer``, ``detect_format``, ``to_trl_dataset``); docs/formats.md is
the user guide. The folders are the parts:

* ``adapters/``: one module per external layout (``alpaca``, ``sharegpt``, ``openai``,
  ``preference``, ``kto``, ``glaive``, ``canonical``), each registered with
  ``@register_format`` and found by ``base.FORMATS``, which imports this folder
* ``readers/``: files -> raw shards (``sources`` dispatch, ``jsonl``, ``tabular``
  (Parquet/CSV), ``textio``, ``shard``; the slow path ``objects``; ``conform``), format
  ``detect``ion, raw shard -> records + rejects (``convert``, row checks in ``validate``)
* ``writers/``: ``files`` (atomic, shard by shard, any format), ``llamafactory``, ``trl``
* here: the adapter contract and registry (``base``), the API (``api``), expressions
  adapters, readers and writers share (``messages``, ``jsontext``, ``extras`` for meta),
  ``summary`` (``dataforge inspect``), ``published`` (the JSON Schema files)
"""

from . import api  # noqa: E402,F401  (``dataforge.formats.api`` after ``import dataforge``)
