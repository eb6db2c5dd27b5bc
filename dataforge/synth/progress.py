"""Progress of a synthesis step, on the shared display (:mod:`dataforge.progress`): one bar
per step with samples/s, ETA, cache hits and failures; and generation in chunks so the
bar moves and the cache is committed as it goes.

Generating a whole dataset in one ``engine.generate`` call would show nothing for an
hour and, if killed, store nothing: the cache writes once per call. Steps therefore call
:func:`generate_chunked`, which sends ``chunk_size`` requests at a time through the
(cached) engine and reports each chunk to the bar. A killed run loses at most the chunk
in flight; the rerun gets every finished chunk from the cache.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, Sequence

from ..progress import task
from .engines.base import Engine, Generation, GenerationParams, GenerationRequest


class StepProgress:
    """A step's bar (``enabled=False``, or ``POSTTRAIN_PROGRESS=0``: counts without drawing)."""

    def __init__(self, label: str, total: int, *, enabled: bool = True) -> None:
        self.label = label
        self.total = total
        self.enabled = enabled
        self.samples = 0
        self.hits = 0
        self.failures = 0
        self._start = time.perf_counter()
        self._stack = contextlib.ExitStack()
        self._advance: Any = None

    def __enter__(self) -> "StepProgress":
        if self.enabled:
            self._advance = self._stack.enter_context(task(self.label, self.total, unit="prompts"))
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stack.close()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self._start

    def update(self, done: int, outputs: Sequence[Sequence[Generation]] = ()) -> None:
        """``done`` more prompts finished; ``outputs`` are their samples (for the counters;
        without them each prompt counts as one sample)."""
        if not outputs:
            self.samples += done
        for samples in outputs:
            self.samples += len(samples)
            self.hits += sum(g.cached for g in samples)
            self.failures += sum(g.finish_reason == "error" for g in samples)
        if self._advance is not None:
            rate = (self.samples - self.hits) / self.seconds if self.seconds > 0 else 0.0
            self._advance(done, note=f"{rate:.1f} samples/s, hits {self.hits}, failed {self.failures}")

    def stats(self) -> dict[str, Any]:
        return {"samples": self.samples, "cache_hits": self.hits, "failures": self.failures,
                "seconds": round(self.seconds, 3)}


def generate_chunked(engine: Engine, requests: Sequence[GenerationRequest], params: GenerationParams,
                     progress: StepProgress, chunk_size: int) -> list[list[Generation]]:
    """``engine.generate`` in chunks of ``chunk_size`` requests, reporting each to ``progress``."""
    out: list[list[Generation]] = []
    for start in range(0, len(requests), chunk_size):
        chunk = engine.generate(requests[start:start + chunk_size], params)
        out.extend(chunk)
        progress.update(len(chunk), chunk)
    return out
