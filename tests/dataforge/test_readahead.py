"""read_ahead: same items in the same order, errors where they happened, early stops
that leave no thread behind."""

from __future__ import annotations

import threading
from typing import Iterator

import pytest

from dataforge.readahead import read_ahead


def test_items_come_in_order() -> None:
    assert list(read_ahead(range(100))) == list(range(100))
    assert list(read_ahead([])) == []
    assert list(read_ahead(iter("abc"), depth=3)) == ["a", "b", "c"]


def test_an_error_is_raised_after_the_items_before_it() -> None:
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("bad shard 3")

    got = []
    with pytest.raises(ValueError, match="bad shard 3"):
        for x in read_ahead(items()):
            got.append(x)
    assert got == [1, 2]


def test_stopping_early_closes_the_source_and_the_thread() -> None:
    closed = threading.Event()
    made = []

    def items() -> Iterator[int]:
        try:
            for i in range(1000):
                made.append(i)
                yield i
        finally:
            closed.set()

    it = read_ahead(items())
    assert next(it) == 0
    it.close()
    assert closed.is_set()
    assert len(made) <= 3  # the one in use, one waiting in the queue, at most one being made
    assert not [t for t in threading.enumerate() if t.name == "dataforge-read-ahead"]


def test_nothing_runs_before_the_first_item_is_asked_for() -> None:
    started = []

    def items() -> Iterator[int]:
        started.append(True)
        yield 1

    it = read_ahead(items())
    assert started == []
    assert list(it) == [1]
