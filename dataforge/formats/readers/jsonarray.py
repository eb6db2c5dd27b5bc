"""A JSON array of objects, streamed: split into elements at the byte level, read as JSON Lines.

A ``.json`` file holding one array has no line structure, and ``json.load`` needs the whole
file (and about 10x its size in Python objects) at once. This splitter finds the array's
top-level commas without parsing anything: per chunk of bytes, vectorized with numpy, it
marks the quotes that open or close strings (a quote preceded by an odd run of
backslashes is escaped), so brackets and commas inside strings are ignored, tracks the
bracket depth, and cuts at the commas of depth 1. Each element becomes one line (its own
newlines, whitespace outside strings, become spaces), so blocks of elements go through
the JSON Lines reader (:mod:`.jsonl`) unchanged: Arrow's parser, the line-by-line slow
path for a bad element, and row numbers that are element numbers (1-based).

The state carried from one chunk to the next is three numbers: inside a string or not,
trailing backslashes, bracket depth. Memory is one chunk plus the pending block.

Not a validator of the array's outer syntax beyond what matters for splitting: an
element that is not valid JSON is rejected like a bad JSON line (``invalid_json``, its
element number); a file that ends inside the array is an error naming the byte.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from ..base import FormatError
from .textio import open_binary

#: Bytes scanned at once: the scan keeps about a dozen 4-byte temporaries per byte.
CHUNK = 1 << 20
_QUOTE, _BACKSLASH, _COMMA = 34, 92, 44
_OPEN = np.array([91, 123], np.uint8)  # [ {
_CLOSE = np.array([93, 125], np.uint8)  # ] }
_WHITESPACE = np.array([9, 10, 13, 32], np.uint8)
#: Stands for a raw newline inside a string (invalid JSON either way): a control character
#: keeps the element invalid, so it is rejected, and keeps the block one element per line.
_RAW_NEWLINE_MARK = 1


class _Scanner:
    """Top-level element boundaries of one JSON array, chunk by chunk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.in_string = False
        self.backslashes = 0  # trailing backslashes of the previous chunk (inside a string)
        self.depth = 0
        self.offset = 0  # bytes scanned before this chunk
        self.closed = False

    def scan(self, chunk: np.ndarray) -> tuple[np.ndarray, bytes]:
        """Cut positions in ``chunk``: the array's opening bracket, its depth-1 commas and
        its closing bracket; and the chunk with newlines replaced (module docstring)."""
        n = len(chunk)
        idx = np.arange(n, dtype=np.int32)
        is_backslash = chunk == _BACKSLASH
        last_plain = np.maximum.accumulate(np.where(is_backslash, np.int32(-1 - self.backslashes), idx))
        run_before = np.empty(n, np.int32)  # backslashes right before each byte
        run_before[0] = self.backslashes
        run_before[1:] = idx[:-1] - last_plain[:-1]
        quote = (chunk == _QUOTE) & (run_before % 2 == 0)
        inside = (np.cumsum(quote, dtype=np.int32) % 2 == 1) ^ self.in_string  # in a string after this byte
        structural = ~inside & ~quote
        step = (np.isin(chunk, _OPEN) & structural).astype(np.int32) - (np.isin(chunk, _CLOSE) & structural)
        depth = self.depth + np.cumsum(step, dtype=np.int32)  # after this byte
        if (depth < 0).any():
            bad = int(np.flatnonzero(depth < 0)[0])
            raise FormatError(f"{self.path}: not valid JSON: unbalanced bracket at byte {self.offset + bad + 1}")
        opens, closes = (step == 1) & (depth == 1), (step == -1) & (depth == 0)
        commas = (chunk == _COMMA) & structural & (depth == 1)
        cuts = np.flatnonzero(opens | commas | closes)
        if closes.any():
            self.closed = True
        newline = (chunk == 10) | (chunk == 13)
        text = chunk.copy()
        text[newline & ~inside] = 32
        text[newline & inside] = _RAW_NEWLINE_MARK
        self.in_string = bool(inside[-1])
        self.backslashes = n - 1 - int(last_plain[-1]) if self.in_string else 0
        self.depth = int(depth[-1])
        self.offset += n
        return cuts, text.tobytes()


def iter_element_blocks(path: Path, elements_per_block: int, max_bytes: int) -> Iterator[tuple[bytes, int]]:
    """Blocks of at most ``elements_per_block`` elements and about ``max_bytes`` at most, one
    element per line, each with the element number of its first line."""
    scanner = _Scanner(path)
    pending: list[bytes] = []  # the lines of the block being built
    size, first_element, opened = 0, 1, False
    carry = b""  # the part of an element begun in an earlier chunk
    with open_binary(path) as f:
        chunk = f.read(CHUNK).removeprefix(b"\xef\xbb\xbf")
        if not chunk.lstrip().startswith(b"["):
            raise FormatError(f"{path}: expected a JSON array of objects")
        while chunk:
            cuts, text = scanner.scan(np.frombuffer(chunk, np.uint8))
            start = 0
            for cut in cuts.tolist():
                element = (carry + text[start:cut]).strip()
                carry, start = b"", cut + 1
                if not opened:  # whitespace before the opening bracket
                    opened = True
                    continue
                if not element:  # "[]"
                    continue
                pending.append(element)
                size += len(element) + 1
                if len(pending) >= elements_per_block or size >= max_bytes:
                    yield b"\n".join(pending) + b"\n", first_element
                    first_element += len(pending)
                    pending, size = [], 0
            carry += text[start:]
            chunk = f.read(CHUNK)
    if not scanner.closed:
        raise FormatError(f"{path}: not valid JSON: the array is not closed at the end of the file (byte {scanner.offset})")
    if carry.strip():
        raise FormatError(f"{path}: not valid JSON: data after the array's closing bracket")
    if pending:
        yield b"\n".join(pending) + b"\n", first_element
