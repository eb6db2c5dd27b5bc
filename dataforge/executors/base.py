"""What every executor returns, and how rejected rows leave it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import polars as pl

#: ``on_rejected(position, stage, rows)``: position 0 is the reader, 1.. the ops in order
RejectSink = Callable[[int, str, pl.DataFrame], None]


@dataclass
class ChainResult:
    """Everything a chain produced: kept records, every rejected row, per-stage stats."""

    kept: pl.DataFrame
    rejected: pl.DataFrame
    stats: list[dict[str, Any]] = field(default_factory=list)


__all__ = ["ChainResult", "RejectSink"]
