"""A content-addressed cache of generations, so a rerun never generates anything twice.

The key is ``engine.cache_key(request, params)``: a hash of the engine fingerprint (model
content, not its path), the messages, the tools and every sampling parameter incl. the
seed. A killed synthesis or eval run resumes where it stopped, and two recipes that ask
the same model the same question share the answer.

Storage is one SQLite file (default ``models.cache_dir()/generations.sqlite``) in WAL mode
with a busy timeout, written in one short transaction per batch, so several processes
(data-parallel workers, a judge and a generator) can share it. Failed generations
(``finish_reason == "error"``) are never stored: they are retried on the next run.

.. code-block:: python

    engine = CachedEngine(make_engine("transformers"), GenerationCache())
    engine.generate(requests, params)   # generates only what the cache lacks
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from .. import models
from .engines.base import Engine, Generation, GenerationParams, GenerationRequest

_SCHEMA = """
CREATE TABLE IF NOT EXISTS generations (
    key TEXT PRIMARY KEY,
    samples TEXT NOT NULL,
    created REAL NOT NULL
)
"""
#: SQLite's bound-parameter limit is 32766 on recent builds, 999 on old ones.
_CHUNK = 900


def default_path() -> Path:
    """Where the shared generation cache lives unless a path is given."""
    return models.cache_dir() / "generations.sqlite"


class GenerationCache:
    """Key -> list of ``Generation`` (the ``n`` samples of one request), in SQLite."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, timeout_s: float = 60.0) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One connection per instance; the lock lets threads (an async engine's pool) share it.
        self._conn = sqlite3.connect(self.path, timeout=timeout_s, check_same_thread=False,
                                     isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(_SCHEMA)

    def get_many(self, keys: Iterable[str]) -> dict[str, list[Generation]]:
        """The cached samples of every key present; absent keys are simply missing."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, list[Generation]] = {}
        with self._lock:
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start:start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(
                    f"SELECT key, samples FROM generations WHERE key IN ({marks})", chunk
                ).fetchall()
                for key, samples in rows:
                    found[key] = [Generation(**d, cached=True) for d in json.loads(samples)]
        return found

    def put_many(self, items: Mapping[str, Sequence[Generation]]) -> int:
        """Store samples (all or nothing, one transaction); returns how many keys were new.

        Keys already present keep their first value: with a deterministic engine both are
        equal, and with a concurrent writer the first one won fairly.
        """
        rows = [
            (key, json.dumps([_stored(g) for g in samples], ensure_ascii=False), time.time())
            for key, samples in items.items()
            if all(g.finish_reason != "error" for g in samples)
        ]
        if not rows:
            return 0
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                before = self._conn.total_changes
                self._conn.executemany("INSERT OR IGNORE INTO generations VALUES (?, ?, ?)", rows)
                added = self._conn.total_changes - before
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return added

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM generations").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> "GenerationCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _stored(generation: Generation) -> dict[str, object]:
    data = dataclasses.asdict(generation)
    del data["cached"]  # a property of the lookup, not of the sample
    return data


class CachedEngine(Engine):
    """Wraps any engine: hits come from the cache (``cached=True``), misses are generated
    in one call to the inner engine (duplicates within a call generated once) and stored.

    ``hits`` and ``misses`` count requests served each way, for run manifests.
    """

    kind = "cached"

    def __init__(self, engine: Engine, cache: GenerationCache | None = None) -> None:
        super().__init__(engine.model)
        self.inner = engine
        self.cache = cache if cache is not None else GenerationCache()
        self.hits = 0
        self.misses = 0

    def fingerprint(self) -> str:
        return self.inner.fingerprint()

    def cache_key(self, request: GenerationRequest, params: GenerationParams) -> str:
        return self.inner.cache_key(request, params)

    def _generate(
        self, requests: Sequence[GenerationRequest], params: GenerationParams
    ) -> list[list[Generation]]:
        keys = [self.cache_key(r, params) for r in requests]
        found = self.cache.get_many(keys)
        todo: dict[str, GenerationRequest] = {}
        for key, request in zip(keys, requests):
            if key not in found:
                todo.setdefault(key, request)
        generated: dict[str, list[Generation]] = {}
        if todo:
            generated = dict(zip(todo, self.inner.generate(list(todo.values()), params)))
            self.cache.put_many(generated)
        self.hits += sum(key in found for key in keys)
        self.misses += sum(key not in found for key in keys)
        return [
            [dataclasses.replace(g) for g in (found[key] if key in found else generated[key])]
            for key in keys
        ]
