"""The content-addressed generation cache: reruns generate nothing twice (real model)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dataforge.synth.cache import CachedEngine, GenerationCache
from dataforge.synth.engines import Engine, Generation, GenerationParams, GenerationRequest, make_engine

PARAMS = GenerationParams(max_new_tokens=6)


def ask(text: str) -> GenerationRequest:
    return GenerationRequest.from_messages([{"role": "user", "content": text}])


class Counting(Engine):
    """Passes every call through to the real engine and records how many requests reached it."""

    kind = "counting"

    def __init__(self, inner: Engine) -> None:
        super().__init__(inner.model)
        self.inner = inner
        self.calls: list[int] = []

    def fingerprint(self) -> str:
        return self.inner.fingerprint()

    def _generate(self, requests, params):
        self.calls.append(len(requests))
        return self.inner.generate(requests, params)


@pytest.fixture(scope="module")
def real_engine(smollm_path) -> Engine:
    return make_engine("transformers", smollm_path)


@pytest.mark.slow
def test_a_rerun_generates_nothing_twice(real_engine, tmp_path: Path):
    db = tmp_path / "generations.sqlite"
    counting = Counting(real_engine)
    first = CachedEngine(counting, GenerationCache(db))
    colour, fruit, city = ask("Name a color."), ask("Name a fruit."), ask("Name a city.")

    out = first.generate([colour, fruit, colour], PARAMS)
    assert counting.calls == [2]  # the duplicate is generated once
    assert out[0][0].text == out[2][0].text and not any(s[0].cached for s in out)
    assert (first.hits, first.misses) == (0, 3)

    # a new process would open a new cache on the same file
    rerun = CachedEngine(counting, GenerationCache(db))
    again = rerun.generate([colour, fruit], PARAMS)
    assert counting.calls == [2]
    assert all(s[0].cached for s in again)
    assert [s[0] for s in again] == [dataclasses.replace(s[0], cached=True) for s in out[:2]]

    mixed = rerun.generate([fruit, city], PARAMS)
    assert counting.calls == [2, 1]  # only the new prompt, in one call
    assert [s[0].cached for s in mixed] == [True, False]
    assert (rerun.hits, rerun.misses) == (3, 1)
    assert len(rerun.cache) == 3


@pytest.mark.slow
def test_the_key_covers_model_messages_tools_and_every_param(real_engine):
    request = ask("Name a color.")
    key = real_engine.cache_key(request, PARAMS)
    assert key == real_engine.cache_key(ask("Name a color."), GenerationParams(max_new_tokens=6))
    variants = [
        real_engine.cache_key(ask("Name a colour."), PARAMS),
        real_engine.cache_key(GenerationRequest.from_messages(request.messages, tools="[]"), PARAMS),
        real_engine.cache_key(request, dataclasses.replace(PARAMS, seed=1)),
        real_engine.cache_key(request, dataclasses.replace(PARAMS, max_new_tokens=7)),
        real_engine.cache_key(request, dataclasses.replace(PARAMS, stop=("\n",))),
        real_engine.cache_key(request, dataclasses.replace(PARAMS, n=2)),
    ]
    assert len({key, *variants}) == 1 + len(variants)
    # the request id names a row; it does not change the answer
    assert real_engine.cache_key(GenerationRequest.from_messages(request.messages, id="x"), PARAMS) == key


def test_samples_round_trip_and_errors_are_not_stored(tmp_path: Path):
    with GenerationCache(tmp_path / "c.sqlite") as cache:
        samples = [Generation("héllo 世界", finish_reason="length", completion_tokens=5), Generation("b")]
        failed = [Generation("", finish_reason="error", error="timeout")]
        assert cache.put_many({"ok": samples, "failed": failed}) == 1
        assert cache.put_many({"ok": [Generation("other")]}) == 0  # first value stays
        got = cache.get_many(["ok", "failed", "absent"])
    assert list(got) == ["ok"]
    assert got["ok"] == [dataclasses.replace(g, cached=True) for g in samples]


def test_default_location_is_the_user_cache(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("POSTTRAIN_CACHE", str(tmp_path))
    with GenerationCache() as cache:
        assert cache.path == tmp_path / "generations.sqlite"
        assert cache.path.is_file()


def test_concurrent_processes_share_one_file(tmp_path: Path):
    db = tmp_path / "shared.sqlite"
    writer = textwrap.dedent(
        """
        import sys
        from dataforge.synth.cache import GenerationCache
        from dataforge.synth.engines import Generation
        worker = int(sys.argv[2])
        with GenerationCache(sys.argv[1]) as cache:
            for batch in range(20):
                keys = [f"k{(worker * 100 + batch * 10 + i) % 250}" for i in range(10)]
                cache.put_many({k: [Generation(k)] for k in keys})
                assert set(cache.get_many(keys)) == set(keys)
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", writer, str(db), str(w)], stderr=subprocess.PIPE)
             for w in range(4)]
    errors = [p.communicate()[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errors
    expected = {f"k{(w * 100 + b * 10 + i) % 250}" for w in range(4) for b in range(20) for i in range(10)}
    with GenerationCache(db) as cache:
        assert len(cache) == len(expected)
        assert {k: v[0].text for k, v in cache.get_many(expected).items()} == {k: k for k in expected}
