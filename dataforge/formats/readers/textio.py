"""Which kind of file is this, and how to open it (gzip transparently)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import BinaryIO

from ..base import FormatError


def open_binary(path: Path) -> BinaryIO:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def file_kind(path: Path) -> str:
    """``jsonl``, ``json``, ``parquet`` or ``csv`` from the name (and a peek for .json)."""
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if name.endswith(".json"):
        return _sniff_json(path)
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith(".csv"):
        return "csv"
    raise FormatError(f"{path}: unsupported file type (use .jsonl, .json, .parquet or .csv, optionally .gz)")


def _sniff_json(path: Path) -> str:
    """A ``.json`` file holding one object per line is JSON Lines."""
    with open_binary(path) as f:
        head = f.read(1 << 16).lstrip(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"["):
        return "json"
    first = head.split(b"\n", 1)[0]
    try:
        return "jsonl" if isinstance(json.loads(first), dict) else "json"
    except ValueError:
        return "json"

