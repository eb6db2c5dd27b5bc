"""JSON Schemas of everything posttrain reads and writes (data files, not code).

This folder is the design card's top-level ``schemas/``. It ships inside the wheel as the
private package ``dataforge._schemas`` (``dataforge/_schemas`` is a link to this folder),
so installing posttrain never adds a top-level ``schemas`` module:

* ``formats/<format>.schema.json``: every input format, written by hand, and the
  canonical record's JSON view (``formats/canonical.schema.json``);
* ``rejected.schema.json``, ``recipe.schema.json``, ``manifest.schema.json``: generated
  from the code (``python -m dataforge.recipe.schema_files``); a test fails when stale.

``dataforge schema [NAME]`` prints any of them.
"""
