"""What every executor returns, and how rejected rows leave it."""

from __future__ import annotations

import json
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

    @property
    def stats_frame(self) -> pl.DataFrame:
        """The per-stage stats as a table: stage, rows in/kept/rejected, seconds, reasons."""
        return pl.DataFrame(
            [{"stage": s["op"], "rows_in": s["rows_in"], "rows_kept": s["rows_kept"],
              "rows_rejected": s["rows_rejected"], "seconds": float(s.get("seconds", 0.0)),
              "reasons": json.dumps(s.get("reasons", {}), ensure_ascii=False, sort_keys=True)}
             for s in self.stats],
            schema={"stage": pl.String, "rows_in": pl.Int64, "rows_kept": pl.Int64, "rows_rejected": pl.Int64,
                    "seconds": pl.Float64, "reasons": pl.String},
        )


__all__ = ["ChainResult", "RejectSink"]
