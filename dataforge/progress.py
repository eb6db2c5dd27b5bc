"""Progress bars (items/s and ETA) for every long step: reading and cleaning, generation,
metrics, judging, synthesis.

One rich live display per command; every step adds its own bar to it, so nested steps
(a metric inside "metrics", a judge's retry round) show together instead of fighting for
the terminal. Rich renders the same bars in Jupyter notebooks. The display goes to
stderr, so piped stdout (tables, JSON) stays clean; ``POSTTRAIN_PROGRESS=0`` turns it off.
It is drawn only once the command has run half a second (``POSTTRAIN_PROGRESS_DELAY``), so
quick commands show just their result and do not load rich's live display at all.

Engines take a whole list of requests per call and report nothing until it returns, so
:class:`ProgressEngine` feeds them in chunks and advances the bar after each chunk (the
outputs are the same: every request is generated on its own seed, see
``dataforge.synth.engines.request_seed``). Wrapped *inside* a ``CachedEngine`` it counts only
the requests that are really generated; cache hits cost no time and show no bar.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

if TYPE_CHECKING:
    from rich.progress import Progress

Advance = Callable[..., None]

#: seconds a command runs before its bars are drawn (``POSTTRAIN_PROGRESS_DELAY``): a
#: command that is done sooner prints only its result, with no bar flashing by, and skips
#: loading and tearing down the live display (~30 ms of a quick ``convert``)
DEFAULT_DELAY_S = 0.5


def enabled() -> bool:
    return os.environ.get("POSTTRAIN_PROGRESS", "1").strip().lower() not in ("0", "false", "no", "off")


def delay_seconds() -> float:
    try:
        return max(0.0, float(os.environ.get("POSTTRAIN_PROGRESS_DELAY", DEFAULT_DELAY_S)))
    except ValueError:
        return DEFAULT_DELAY_S


@dataclass
class Step:
    """One bar's numbers, kept whether or not the bar is drawn yet."""

    description: str
    total: float | None
    unit: str
    started: float
    completed: float = 0
    note: str = ""
    finished: bool = False
    bar: Any = None  # the rich task id once drawn


class Display:
    """The command's one live display. Steps are counted from the start; the rich display
    is created and drawn, with every step so far, once the command has run ``delay``
    seconds (a timer thread), so quick commands never draw it."""

    def __init__(self, *, delay: float | None = None, draw: bool | None = None) -> None:
        self.steps: list[Step] = []
        self._draw = enabled() if draw is None else draw
        self._lock = threading.RLock()
        self._progress: Progress | None = None
        self._timer: threading.Timer | None = None
        self._closed = False
        wait = delay_seconds() if delay is None else delay
        if self._draw and wait <= 0:
            self._show()
        elif self._draw:
            self._timer = threading.Timer(wait, self._show)
            self._timer.daemon = True
            self._timer.start()

    def add(self, description: str, total: float | None, unit: str) -> Step:
        with self._lock:
            step = Step(description, total, unit, started=time.monotonic())
            self.steps.append(step)
            if self._progress is not None:
                self._add_bar(step)
            return step

    def update(self, step: Step, advance: float = 0, note: str | None = None, total: float | None = None) -> None:
        with self._lock:
            step.completed += advance
            if note is not None:
                step.note = note
            if total is not None:
                step.total = total
            if self._progress is not None:
                extra: dict[str, Any] = {"note": note} if note is not None else {}
                if total is not None:
                    extra["total"] = total
                self._progress.update(step.bar, advance=advance, **extra)

    def finish(self, step: Step) -> None:
        with self._lock:
            step.finished = True
            if self._progress is not None:
                self._progress.stop_task(step.bar)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
            if self._progress is not None:
                self._progress.stop()

    def _show(self) -> None:
        with self._lock:
            if self._closed or self._progress is not None:
                return
            self._progress = _new_progress()
            for step in self.steps:
                self._add_bar(step)
            self._progress.start()

    def _add_bar(self, step: Step) -> None:
        assert self._progress is not None
        step.bar = self._progress.add_task(step.description, total=step.total, completed=step.completed,
                                           unit=step.unit, note=step.note)
        bar = next(t for t in self._progress.tasks if t.id == step.bar)
        bar.start_time = step.started  # elapsed time counts from the step's real start
        if step.finished:
            self._progress.stop_task(step.bar)


_ACTIVE: contextvars.ContextVar[Display | None] = contextvars.ContextVar("posttrain_progress", default=None)


def _new_progress() -> Progress:
    from rich.console import Console
    from rich.progress import (
        BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TaskProgressColumn, TextColumn,
        TimeElapsedColumn, TimeRemainingColumn,
    )
    from rich.text import Text

    class Rate(ProgressColumn):
        """``12.3 prompts/s`` (the task's ``unit`` field), or ``–`` before the first step."""

        def render(self, task: Task) -> Text:
            unit = task.fields.get("unit", "items")
            speed = task.finished_speed or task.speed
            return Text("–" if speed is None else f"{speed:.2f} {unit}/s", style="progress.data.speed")

    return Progress(
        TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TaskProgressColumn(), Rate(), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
        TextColumn("{task.fields[note]}"), console=Console(stderr=True),
    )


@contextlib.contextmanager
def task(description: str, total: int | None, unit: str = "items") -> Iterator[Advance]:
    """A bar on the current display (opened here when none is live); yields
    ``advance(n, note=None, total=None)`` (``note``: short text shown after the bar, e.g.
    cache hits; ``total``: a new estimate of the total)."""
    display = _ACTIVE.get()
    owner = display is None
    if owner:
        display = Display()
        token = _ACTIVE.set(display)
    step = display.add(description, total, unit)

    def advance(n: int = 1, note: str | None = None, total: int | None = None) -> None:
        display.update(step, n, note=note, total=total)

    try:
        yield advance
    finally:
        display.finish(step)
        if owner:
            display.close()
            _ACTIVE.reset(token)


def track_rows(shards: Iterable[Any], description: str, total: int | None, size: int | None = None) -> Iterator[Any]:
    """Pass ``LoadResult`` shards through, advancing a rows bar by each shard's rows read.

    With no row ``total`` but the input's ``size`` in bytes, the total is estimated from
    the rows per byte read so far (shards report ``stats["bytes_in"]``) and refined with
    every shard; at the end it is the exact count.
    """
    rows = read = 0
    with task(description, total=total, unit="rows") as advance:
        for shard in shards:
            yield shard
            n = int(shard.stats.get("rows_in", shard.records.height + shard.rejected.height))
            rows += n
            read += shard.stats.get("bytes_in") or 0
            estimate = None
            if total is None and size and read:
                estimate = max(rows, round(rows * size / read))
            advance(n, total=estimate)
        if total is None and size:
            advance(0, total=rows)


class ProgressEngine:
    """An engine proxy that generates in chunks of ``chunk`` requests and advances a bar.

    Everything but ``generate`` is the wrapped engine's (fingerprint, cache key, model), so
    cache keys and signatures do not change when progress is shown.
    """

    def __init__(self, engine: Any, description: str, chunk: int = 32, unit: str = "prompts") -> None:
        self.engine = engine
        self.description = description
        self.chunk = max(1, chunk)
        self.unit = unit

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)

    def generate(self, requests: Sequence[Any], params: Any) -> list[Any]:
        outputs: list[Any] = []
        with task(self.description, total=len(requests), unit=self.unit) as advance:
            for start in range(0, len(requests), self.chunk):
                part = list(requests[start:start + self.chunk])
                outputs += self.engine.generate(part, params)
                advance(len(part))
        return outputs


#: training metrics shown beside the steps bar, first found first
TRAIN_KEYS = ("loss", "reward", "kl", "rewards/accuracies", "accuracy", "grad_norm")


class StepsBar:
    """A trainer's progress (``backends.TrainProgress``) on this display: steps, steps/s,
    ETA, and the latest loss / reward / KL after the bar. Used by ``dataforge train`` and
    by the train stages of ``dataforge run``."""

    def __init__(self) -> None:
        self._stack = contextlib.ExitStack()
        self._advance: Advance | None = None
        self._done = 0
        self.metrics: dict[str, float] = {}

    def start(self, total_steps: int, description: str) -> None:
        if self._advance is None:
            self._advance = self._stack.enter_context(task(f"train {description}", total=max(total_steps, 1),
                                                           unit="steps"))

    def update(self, step: int, logs: Any) -> None:
        if self._advance is None:
            return
        for key in TRAIN_KEYS:
            value = logs.get(key)
            if isinstance(value, (int, float)):
                self.metrics[key] = float(value)
        self._advance(max(step - self._done, 0), note="  ".join(f"{k}={v:.4g}" for k, v in self.metrics.items()))
        self._done = max(self._done, step)

    def finish(self) -> None:
        self._stack.close()
