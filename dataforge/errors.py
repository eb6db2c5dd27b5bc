"""Refusals a user can act on, kept apart from bugs.

A :class:`UserError` is the toolkit saying "no" to an input, a parameter or a path: every
command shows it as one line (``error: <message>``) and exits with code 2. Any other
exception is a bug in the toolkit and keeps its traceback, so bugs are never dressed up
as user errors. ``--debug`` (or ``POSTTRAIN_DEBUG=1``) shows the traceback of a user
error too.

Subclasses also derive from the built-in exception they replace (``FormatError`` is a
``ValueError``, ``UnknownNameError`` a ``KeyError``), so callers that caught those keep
working.
"""

from __future__ import annotations

import difflib
import os
from typing import Iterable

DEBUG_ENV = "POSTTRAIN_DEBUG"


def debug_enabled() -> bool:
    """True when tracebacks of user errors should be shown (``--debug`` sets the variable)."""
    return os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


class UserError(Exception):
    """Base of every refusal shown to the user as one line (exit code 2)."""

    exit_code = 2

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__


class ConfigError(UserError, ValueError):
    """A configuration (op, metric, engine, stage, recipe key) that does not validate."""


class DataError(UserError, ValueError):
    """Input data that cannot be processed as asked (wrong columns, empty input, too few rows)."""


class MissingFileError(UserError, FileNotFoundError):
    """A file or folder named by the user does not exist."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "no such file"


class UnsafeOutputError(UserError, ValueError):
    """An output path that would overwrite or delete something the toolkit does not own."""


def nearest(name: str, known: Iterable[str], n: int = 3) -> list[str]:
    """Up to ``n`` known names close to ``name`` (for "did you mean" hints)."""
    return difflib.get_close_matches(name, list(known), n=n, cutoff=0.6)


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` when a close name exists, else ``""``."""
    close = nearest(name, known)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


class UnknownNameError(UserError, KeyError):
    """A name looked up in a registry (op, format, metric, engine, verifier, back end)
    that is not there; the message suggests the nearest names and lists the known ones."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        known = sorted(known)
        self.kind, self.name, self.known = kind, name, known
        super().__init__(f"unknown {kind} {name!r}{did_you_mean(name, known)}; known {kind}s: {', '.join(known)}")


__all__ = [
    "ConfigError", "DataError", "DEBUG_ENV", "MissingFileError", "UnknownNameError", "UnsafeOutputError", "UserError",
    "debug_enabled", "did_you_mean", "nearest",
]
