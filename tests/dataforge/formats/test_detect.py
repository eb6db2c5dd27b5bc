"""Format detection with plug-in formats installed: built-ins answer first, plug-ins
are detected when no built-in fits, and standard files never scan entry points."""

from __future__ import annotations

from typing import Any

import pytest

from dataforge import registry
from dataforge.errors import UnknownNameError
from dataforge.formats.base import FORMATS, Format, Sample
from dataforge.formats.readers.detect import detect_sample

ALPACA_ROWS = [{"instruction": "Translate 你好", "input": "", "output": "hello"}]


class _GreedyPlugin(Format):
    """A third-party format that claims every row with an ``instruction``."""

    name = "greedy_plugin"

    def detect(self, sample: Sample) -> bool:
        return all("instruction" in row or "ticket" in row for row in sample.rows)


@pytest.fixture
def plugin(monkeypatch: pytest.MonkeyPatch) -> Format:
    fmt = _GreedyPlugin()
    monkeypatch.setitem(FORMATS._items, fmt.name, fmt)
    monkeypatch.setitem(FORMATS._origin, fmt.name, __name__)
    return fmt


def _sample(rows: list[dict[str, Any]]) -> Sample:
    return Sample(rows=rows)


def test_a_plugin_that_also_fits_does_not_make_builtin_files_ambiguous(plugin: Format) -> None:
    assert detect_sample(_sample(ALPACA_ROWS)) == "alpaca"


def test_a_plugin_format_is_detected_when_no_builtin_fits(plugin: Format) -> None:
    assert detect_sample(_sample([{"ticket": "T-1", "body": "我的订单没到"}])) == "greedy_plugin"


def test_builtin_lookups_do_not_scan_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    scans: list[str] = []
    monkeypatch.setattr(registry, "entry_points", lambda group: scans.append(group) or [])
    monkeypatch.setattr(FORMATS, "_loaded", False)
    assert detect_sample(_sample(ALPACA_ROWS)) == "alpaca"
    assert FORMATS.get("sharegpt").name == "sharegpt"
    assert scans == []
    with pytest.raises(UnknownNameError, match="no_such_format"):
        FORMATS.get("no_such_format")
    assert scans == ["posttrain.formats"]  # an unknown name looks at the plug-ins before failing
