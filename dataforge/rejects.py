"""Rejected rows on disk: one writer and one layout for every command.

Every command that drops rows (``convert``, ``apply``, ``split``, ``mix``, ``synth``,
``dataforge run``) writes them into one folder: ``<output stem>.rejected/`` beside a file
output (``clean.parquet`` -> ``clean.rejected/``), ``rejected/`` inside a folder output or
a run's stage folder. The folder holds one Parquet file per stage, ``NN-<stage>.parquet``
(``00-read_jsonl``, ``03-dedup.near``...) in chain order, each with the record, ``stage``,
``reason``, ``field``, ``detail``, the source file and row and, for reader rejections, the
raw text. A distributed run writes each stage in parts, one per batch of one worker:
``NN-<stage>.<part>.parquet`` (same columns, same chain order when sorted by name).
:func:`read_rejected` reads any of them back.

Safety (see ``dataforge.outputs``): rows stream into a temporary folder beside the
target; ``close`` puts it in place. An earlier rejected folder is replaced only when the
toolkit created it; a user's folder given with ``--rejected`` is never emptied (with
``--overwrite`` our files are added to it, replacing same-named ones). When nothing was
rejected, no folder is created and a stale one of ours from an earlier run is removed.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from .fileio import AtomicOutput, commit_folder, make_temp_dir, writing
from .outputs import mark_folder, remove_owned, sweep_temporaries
from .schemas.rejected import conform_rejected, empty_rejected

#: columns shown for the first rejections on screen (``file:line: field: reason: detail``)
_SHOWN = ["source_file", "source_row", "field", "reason", "detail"]


def rejected_file_name(position: int, stage: str, part: str | None = None) -> str:
    """``NN-<stage>.parquet`` (``NN-<stage>.<part>.parquet`` for one part of a stage)."""
    safe = re.sub(r"[^\w.-]+", "_", stage)
    return f"{position:02d}-{safe}" + (f".{part}" if part else "") + ".parquet"


def rejected_folder(output: Path | str) -> Path:
    """``out/train.jsonl.gz`` -> ``out/train.rejected`` (the folder beside a file output)."""
    output = Path(output)
    name = output.name
    for suffix in (".gz", ".parquet", ".jsonl", ".ndjson", ".json", ".csv"):
        name = name.removesuffix(suffix)
    return output.with_name(f"{name}.rejected")


class RejectedWriter(AtomicOutput):
    """Streams rejected rows into ``folder``, one Parquet file per stage (see module doc).

    Use as the ``on_rejected(position, stage, rows)`` callback of ``iter_apply``, or call
    :meth:`write` with rows of one stage.
    """

    def __init__(self, folder: str | os.PathLike[str], *, overwrite: bool = False,
                 command: str = "", keep_examples: int = 10) -> None:
        self.folder = Path(folder)
        self.overwrite = overwrite
        self.command = command
        self.keep_examples = keep_examples
        self.examples: list[dict[str, Any]] = []  # the first rejections, to show on screen
        self.counts: dict[str, int] = {}
        self._tmp: Path | None = None
        self._writers: dict[tuple[int, str], pq.ParquetWriter] = {}
        sweep_temporaries(self.folder.parent, self.folder.name)  # of a killed earlier run

    def __call__(self, position: int, stage: str, rows: pl.DataFrame) -> None:
        if not rows.height:
            return
        folder = self.parts_folder()
        room = self.keep_examples - len(self.examples)
        if room > 0:
            self.examples.extend(rows.head(room).select(_SHOWN).to_dicts())
        key = (position, stage)
        table = conform_rejected(rows).to_arrow()
        with writing(self.folder):
            if key not in self._writers:
                self._writers[key] = pq.ParquetWriter(folder / rejected_file_name(position, stage), table.schema,
                                                      compression="zstd")
            self._writers[key].write_table(table)
        self.counts[stage] = self.counts.get(stage, 0) + rows.height

    def parts_folder(self) -> Path:
        """The temporary folder, for workers that write their own parts into it
        (:func:`rejected_file_name` with a part); ``close`` puts it in place."""
        if self._tmp is None:
            self._tmp = make_temp_dir(self.folder)
            mark_folder(self._tmp, self.command)
        return self._tmp

    def write(self, rows: pl.DataFrame, stage: str | None = None, position: int = 0) -> None:
        """Rows of one stage (default: the ``stage`` column of the first row)."""
        if rows.height:
            self(position, stage or str(rows["stage"][0]), rows)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def close(self) -> Path | None:
        """Finish the files and put the folder in place; None when nothing was rejected."""
        try:
            with writing(self.folder):
                for writer in self._writers.values():
                    writer.close()
        except BaseException:
            self.abort()
            raise
        if self._tmp is not None and not any(self._tmp.glob("*.parquet")):
            shutil.rmtree(self._tmp)  # handed to workers, who had nothing to reject
            self._tmp = None
        if self._tmp is None:
            remove_owned(self.folder)  # a stale folder of an earlier run of ours
            return None
        return commit_folder(self._tmp, self.folder, command=self.command, overwrite=self.overwrite)

    def abort(self) -> None:
        """Drop everything written (an earlier folder, if any, stays as it was)."""
        for writer in self._writers.values():
            with contextlib.suppress(OSError):  # the error being handled already says why
                writer.close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)


def read_rejected(folder: str | os.PathLike[str]) -> pl.DataFrame:
    """All rejected rows of a rejected folder, in chain order (empty if none or missing)."""
    files = sorted(Path(folder).glob("*.parquet"))
    if not files:
        return empty_rejected()
    return pl.concat([conform_rejected(pl.read_parquet(f)) for f in files], how="vertical")


__all__ = ["RejectedWriter", "read_rejected", "rejected_file_name", "rejected_folder"]
