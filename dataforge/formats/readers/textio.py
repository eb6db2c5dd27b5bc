"""Which kind of file is this, and how to open it (gzip transparently)."""

from __future__ import annotations

import gzip
import json
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

from ..base import FormatError


def open_binary(path: Path) -> BinaryIO:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


@contextmanager
def stream_errors(path: Path) -> Iterator[None]:
    """Turn a broken gzip stream, met anywhere while reading ``path``, into a refusal that
    names the file (Python raises ``EOFError``, ``BadGzipFile`` or ``zlib.error`` with no
    file name, and the CLI would show "Aborted." for an ``EOFError``)."""
    try:
        yield
    except gzip.BadGzipFile as e:
        raise FormatError(f"{path}: not a gzip file ({e}); drop the .gz suffix if it is not compressed") from None
    except EOFError:
        raise FormatError(f"{path}: the gzip data ends early: the file is truncated (an interrupted copy or download?)") from None
    except zlib.error as e:
        raise FormatError(f"{path}: corrupt gzip data ({e})") from None


_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def file_kind(path: Path) -> str:
    """``jsonl``, ``json``, ``parquet`` or ``csv`` from the name (and a peek for .json).

    Text files must be UTF-8: a UTF-16 file (Windows' "Unicode") is refused by name here,
    rather than every line being rejected as invalid UTF-8.
    """
    name = path.name.lower().removesuffix(".gz")
    if not name.endswith((".parquet", ".pq")):
        with open_binary(path) as f:
            if f.read(2) in _UTF16_BOMS:
                raise FormatError(f"{path}: the file is UTF-16 text; save it as UTF-8 (e.g. `iconv -f UTF-16 -t UTF-8`)")
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
    except (ValueError, RecursionError):
        return "json"

