"""A LLaMA-Factory dataset folder: ``<name>.jsonl`` plus its ``dataset_info.json`` entry.

The entry is derived from what was actually written: ``formatting`` (sharegpt by
default, since it holds tools; alpaca on request), the column map, the ShareGPT tags,
``ranking: true`` when the records are preference pairs and ``kto_tag`` for KTO labels.
Existing entries in ``dataset_info.json`` are kept; the file is replaced atomically.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import polars as pl

from ..base import FormatError
from ...fileio import AtomicOutput, write_text_atomic
from .files import ShardWriter

SHAREGPT_TAGS = {
    "role_tag": "from",
    "content_tag": "value",
    "user_tag": "human",
    "assistant_tag": "gpt",
    "observation_tag": "observation",
    "function_tag": "function_call",
    "system_tag": "system",
}


class LlamaFactoryWriter(AtomicOutput):
    """Same protocol as :class:`ShardWriter` (``write``/``close``/``abort``, context manager)."""

    def __init__(self, folder: str | Path, *, name: str | None = None, formatting: str = "sharegpt", **options: Any) -> None:
        if formatting not in ("sharegpt", "alpaca"):
            raise FormatError("llamafactory formatting must be 'sharegpt' or 'alpaca'")
        self.folder = Path(folder)
        if self.folder.suffix in (".json", ".jsonl", ".parquet"):
            raise FormatError(f"{folder}: llamafactory output is a folder, not a file")
        self.name = name or self.folder.name
        self.formatting = formatting
        self._created = not self.folder.exists()  # then abort leaves no empty folder behind
        self.path = self.folder / f"{self.name}.jsonl"
        # meta stays one text field: LLaMA-Factory loads with `datasets`, which needs one
        # type per column, and spread meta keys may differ between rows
        self._data = ShardWriter(self.path, formatting, spread_meta=False, **options)
        self._seen = {"system": False, "tools": False, "history": False, "ranking": False, "kto": False}
        self.rows = 0

    def write(self, df: pl.DataFrame) -> None:
        self._data.write(df)
        self.rows += df.height
        first_role = pl.col("messages").list.first().struct.field("role")
        seen = df.select(
            (first_role == "system").any().alias("system"),
            pl.col("tools").is_not_null().any().alias("tools"),
            (pl.col("messages").list.len() > 3).any().alias("history"),
            pl.col("chosen").is_not_null().any().alias("ranking"),
            pl.col("label").is_not_null().any().alias("kto"),
        ).row(0, named=True)
        self._seen = {k: bool(self._seen[k] or seen[k]) for k in self._seen}

    @property
    def dropped(self) -> dict[str, int]:
        """Message fields the data file could not hold -> records that lost them."""
        return self._data.dropped

    def entry(self) -> dict[str, Any]:
        s = self._seen
        if self.formatting == "sharegpt":
            columns = {"messages": "conversations"}
            if s["system"]:
                columns["system"] = "system"
            if s["tools"]:
                columns["tools"] = "tools"
            entry: dict[str, Any] = {"file_name": self.path.name, "formatting": "sharegpt"}
        else:
            columns = {"prompt": "instruction", "query": "input"}
            if not s["ranking"]:
                columns["response"] = "output"
            if s["system"]:
                columns["system"] = "system"
            if s["history"]:
                columns["history"] = "history"
            entry = {"file_name": self.path.name, "formatting": "alpaca"}
        if s["ranking"]:
            entry["ranking"] = True
            columns.update(chosen="chosen", rejected="rejected")
        if s["kto"]:
            columns["kto_tag"] = "kto_tag"
        entry["columns"] = columns
        if self.formatting == "sharegpt":
            entry["tags"] = dict(SHAREGPT_TAGS)
        return entry

    def close(self) -> Path:
        self._data.close()
        info_path = self.folder / "dataset_info.json"
        info = json.loads(info_path.read_text("utf-8")) if info_path.exists() else {}
        info[self.name] = self.entry()
        write_text_atomic(info_path, json.dumps(info, ensure_ascii=False, indent=2) + "\n")
        return self.folder

    def abort(self) -> None:
        self._data.abort()
        if self._created:
            with contextlib.suppress(OSError):  # only succeeds while the folder is empty
                self.folder.rmdir()
