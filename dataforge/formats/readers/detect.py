"""Which format is this file? Decided from the keys and value types of its first rows.

Each adapter says whether a sample looks like its format. Exactly one yes wins; none or
several is an error that names the candidates and how to override (``--format``).
Built-in formats are asked first and plug-in formats only when no built-in says yes: a
plug-in that also fits, say, Alpaca rows must not make every Alpaca file ambiguous, and
standard files skip the scan of installed distributions for plug-ins (~30 ms a command).
"""

from __future__ import annotations

from ..base import FormatError, Sample, all_formats, builtin_formats


def candidates(sample: Sample) -> list[str]:
    """The built-in formats that fit ``sample``; the plug-in ones when none does."""
    builtins = builtin_formats()
    found = [name for name, fmt in builtins.items() if fmt.detect(sample)]
    return found or [name for name, fmt in all_formats().items() if name not in builtins and fmt.detect(sample)]


def detect_sample(sample: Sample, where: str = "input") -> str:
    if not sample.rows:
        raise FormatError(f"{where}: no readable rows to detect the format from; pass --format (CLI) or format= (API)")
    found = candidates(sample)
    if "canonical" in found:
        return "canonical"
    if len(found) == 1:
        return found[0]
    keys = ", ".join(sorted(sample.keys))
    if not found:
        raise FormatError(
            f"{where}: format not recognized from keys [{keys}]; pass --format (one of: {', '.join(sorted(all_formats()))})"
        )
    raise FormatError(
        f"{where}: ambiguous format, keys [{keys}] match {' and '.join(sorted(found))}; pass --format to choose"
    )
