"""Progress of a synthesis step: one rich bar per step (samples/s, cache hits, failures,
ETA), and generation in chunks so the bar moves and the cache is committed as it goes.

Generating a whole dataset in one ``engine.generate`` call would show nothing for an
hour and, if killed, store nothing: the cache writes once per call. Steps therefore call
:func:`generate_chunked`, which sends ``chunk_size`` requests at a time through the
(cached) engine and reports each chunk to the bar. A killed run loses at most the chunk
in flight; the rerun gets every finished chunk from the cache.
"""

from __future__ import annotations

import time
from typing import Any, Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from .engines.base import Engine, Generation, GenerationParams, GenerationRequest


class StepProgress:
    """A rich progress bar for one step; ``enabled=False`` counts without drawing."""

    def __init__(self, label: str, total: int, *, enabled: bool = True, console: Console | None = None) -> None:
        self.label = label
        self.samples = 0
        self.hits = 0
        self.failures = 0
        self._start = time.perf_counter()
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>6.1f} samples/s"),
            TextColumn("cache hits {task.fields[hits]}"),
            TextColumn("failures {task.fields[failures]}"),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            disable=not enabled,
            transient=False,
        )
        self._task = self._progress.add_task(label, total=total, rate=0.0, hits=0, failures=0)

    def __enter__(self) -> "StepProgress":
        self._progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._progress.stop()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self._start

    def update(self, done: int, outputs: Sequence[Sequence[Generation]] = ()) -> None:
        """``done`` more items finished; ``outputs`` are their samples (for the counters;
        without them each item counts as one sample)."""
        if not outputs:
            self.samples += done
        for samples in outputs:
            self.samples += len(samples)
            self.hits += sum(g.cached for g in samples)
            self.failures += sum(g.finish_reason == "error" for g in samples)
        fresh = self.samples - self.hits
        rate = fresh / self.seconds if self.seconds > 0 else 0.0
        self._progress.update(self._task, advance=done, rate=rate, hits=self.hits, failures=self.failures)

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
