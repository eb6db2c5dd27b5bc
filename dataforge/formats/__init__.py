"""Formats: read any supported file into the canonical record, and write it back out.

The public surface is :mod:`dataforge.formats.api` (``load``, ``iter_load``, ``read``,
``write``, ``open_writer``, ``detect_format``, ``to_trl_dataset``); docs/formats.md is
the user guide. Layout, one job per module:

* adapters (one per external layout, registered in :mod:`base`): ``alpaca``,
  ``sharegpt``, ``openai``, ``preference``, ``kto``, ``glaive``, ``canonical``
* files -> raw shards: ``sources`` (dispatch, samples, JSON arrays), ``jsonl``,
  ``tabular`` (Parquet/CSV), ``textio``, ``shard``; the slow path ``objects``; ``conform``
* raw shard -> records + rejects: ``reader``, ``validate``, ``extras`` (meta), ``detect``
* out: ``writers``, ``llamafactory``, ``trl``; shared expressions: ``messages``, ``jsontext``
* ``summary`` (``dataforge inspect``), ``published`` (the JSON Schema files)
"""
