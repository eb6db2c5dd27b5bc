"""Schemas: the canonical record (Arrow, in code) and JSON Schemas of the input formats.

The design card puts these in a top-level ``schemas/`` folder; they live inside the
``dataforge`` package instead so they ship in the wheel and the import name cannot clash
with other distributions (docs/architecture.md).
"""

from .record import CANONICAL_SCHEMA, COLUMNS, MESSAGE_DTYPE, POLARS_SCHEMA, conform, empty_table, from_dicts, message, to_arrow
from .rejected import REJECTED_SCHEMA, conform_rejected, empty_rejected, reject_records

__all__ = [
    "CANONICAL_SCHEMA", "COLUMNS", "MESSAGE_DTYPE", "POLARS_SCHEMA", "conform", "empty_table",
    "from_dicts", "message", "to_arrow", "REJECTED_SCHEMA", "conform_rejected",
    "empty_rejected", "reject_records",
]
