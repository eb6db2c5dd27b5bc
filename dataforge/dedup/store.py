"""Shingles of earlier shards' records, kept on disk so memory does not grow with the input.

Verifying a candidate pair needs both records' shingles. Within a shard they are at hand;
a record of a later shard may match one of any earlier shard, and keeping every earlier
record's shingles in memory would cost about 1.5x the text itself. So the runs of records
that a later shard may be compared with are appended to one temporary file (uint32
values; the offsets, 8 bytes a record, stay in memory) and read back through a memory map
for just the records a shard's candidates name.

The runs of the most recent shard stay in memory until the next one arrives, so a single
table (the Python API on one frame, a ``needs_full_table`` op) never touches the disk.
The folder is removed when the store is garbage-collected or the process exits.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path

import numpy as np

from .jaccard import ShingleRuns


class ShingleStore:
    """Append-only shingle runs, addressed by the position they were added at."""

    def __init__(self) -> None:
        self._folder: Path | None = None
        self._offsets = np.zeros(1, np.int64)  # of the runs on disk
        self._recent = ShingleRuns.empty()  # not yet on disk: ids from len(self._offsets) - 1

    def __len__(self) -> int:
        return len(self._offsets) - 1 + len(self._recent)

    def add(self, runs: ShingleRuns) -> np.ndarray:
        """Store ``runs``; their ids (consecutive)."""
        first = len(self)
        self._spill()
        self._recent = runs
        return np.arange(first, first + len(runs), dtype=np.int64)

    def get(self, ids: np.ndarray) -> ShingleRuns:
        """The runs of ``ids``, in that order."""
        ids = np.asarray(ids, np.int64)
        on_disk = len(self._offsets) - 1
        old = ids < on_disk
        if old.all() and len(ids):
            return self._read(ids)
        if not old.any():
            return self._recent.take(ids - on_disk)
        parts = ShingleRuns.concat([self._read(ids[old]), self._recent.take(ids[~old] - on_disk)])
        order = np.concatenate([np.flatnonzero(old), np.flatnonzero(~old)])
        return parts.take(np.argsort(order))

    def _spill(self) -> None:
        if not len(self._recent):
            return
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="dataforge-dedup-"))
            weakref.finalize(self, shutil.rmtree, self._folder, True)
        with open(self._folder / "shingles.u32", "ab") as f:
            f.write(self._recent.values.astype(np.uint32).tobytes())
        self._offsets = np.concatenate([self._offsets, self._offsets[-1] + self._recent.offsets[1:]])
        self._recent = ShingleRuns.empty()

    def _read(self, ids: np.ndarray) -> ShingleRuns:
        if self._offsets[-1] == 0:  # only empty runs so far (an empty file cannot be mapped)
            return ShingleRuns(np.zeros(0, np.uint32), self._offsets).take(ids)
        values = np.memmap(self._folder / "shingles.u32", dtype=np.uint32, mode="r",  # type: ignore[operator]
                           shape=(int(self._offsets[-1]),))
        return ShingleRuns(values, self._offsets).take(ids)
