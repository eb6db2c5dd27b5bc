"""The unit every reader hands to the conversion pipeline: one shard of raw rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import polars as pl

from .objects import Reject


@dataclass
class RawShard:
    """One shard of raw rows, typed for the plan, plus what could not be parsed.

    ``rows_in`` = ``frame.height`` + ``len(rejects)``: every input row is one or the other.
    """

    frame: pl.DataFrame  #: parsed rows: the plan's columns (typed) + extra columns
    rows: list[int]  #: 1-based line/row in the file of each frame row
    rejects: list[Reject]  #: rows that did not parse (bad JSON, wrong types)
    rows_in: int
    text_of: Callable[[Sequence[int]], list[str | None]]  #: frame positions -> original text
    ignored: set[str] = field(default_factory=set)  #: nested keys the plan does not read
    bytes_in: int | None = None  #: input bytes of a JSON shard (progress estimates); None for tables
