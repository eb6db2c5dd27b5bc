"""Produce the next item of a stream in a background thread while the consumer works.

Reading a shard (Arrow's JSON parser, polars expressions) and using the previous one
(zstd-compressing it into Parquet, running ops on it) both spend most of their time in
native code that releases the GIL. Run one after the other they use one core; with the
reader a shard ahead they overlap on two. Memory grows by the items in flight
(``depth``, one shard by default), so the bounded-memory promise of streaming holds.
"""

from __future__ import annotations

import queue
import threading
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")

_DONE = object()


def read_ahead(items: Iterable[T], depth: int = 1) -> Iterator[T]:
    """Yield ``items`` in order, produced by a thread up to ``depth`` items ahead.

    Nothing starts before the first ``next()``. An exception raised while producing is
    raised here, at the position where it happened (the items before it are yielded
    first). Closing this iterator early (``break``, an error in the consumer) stops the
    producer after the item it is making and closes ``items``.
    """
    slots: queue.Queue[tuple[bool, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[bool, object]) -> bool:
        while not stop.is_set():
            try:
                slots.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        source = iter(items)
        try:
            for item in source:
                if not put((True, item)):
                    return
            put((True, _DONE))
        except BaseException as e:  # handed to the consumer, raised there
            put((False, e))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    producer = threading.Thread(target=produce, name="dataforge-read-ahead", daemon=True)
    producer.start()
    try:
        while True:
            ok, value = slots.get()
            if not ok:
                raise value  # type: ignore[misc]
            if value is _DONE:
                return
            yield value  # type: ignore[misc]
    finally:
        stop.set()
        producer.join()
