"""The ``openai`` engine over real sockets.

Retries, failover, concurrency, n top-up, the API key and connection release are tested
against :class:`ScriptedServer`, a real local HTTP server that speaks the protocol and
misbehaves on chosen calls (its answers are canned: the model is not under test there).
Real generation through the engine is tested against llama.cpp's server on the
embedded GGUF (``llama_server`` fixture, tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from dataforge.errors import UserError
from dataforge.synth.engines import GenerationParams, GenerationRequest, make_engine
from dataforge.synth.engines.base import request_seed
from http_servers import ScriptedServer, completion, down_url, last_user

FAST = {"backoff_s": 0.01, "backoff_max_s": 0.05}


def ask(text: str, tools: str | None = None) -> GenerationRequest:
    return GenerationRequest.from_messages([{"role": "user", "content": text}], tools=tools)


def test_429_500_and_a_dropped_connection_are_retried_and_the_batch_completes():
    with ScriptedServer({1: "429", 2: "500", 3: "drop"}) as server, \
            make_engine("openai", None, base_url=server.url, concurrency=1, **FAST) as engine:
        out = engine.generate([ask("a"), ask("b")])
    assert [s[0].text for s in out] == ["echo: a", "echo: b"]
    assert all(s[0].finish_reason == "stop" and s[0].error is None for s in out)
    assert engine.retries == 3 and server.calls == 5


def test_one_request_that_keeps_failing_becomes_an_error_and_the_others_succeed():
    rule = lambda body: "500" if last_user(body) == "doomed" else None  # noqa: E731
    with ScriptedServer(rule=rule) as server, \
            make_engine("openai", None, base_url=server.url, max_retries=2, **FAST) as engine:
        out = engine.generate([ask("fine"), ask("doomed"), ask("also fine")])
    assert [s[0].finish_reason for s in out] == ["stop", "error", "stop"]
    assert "HTTP 500" in out[1][0].error and "after 3 attempts" in out[1][0].error
    assert out[1][0].text == ""


def test_a_client_error_is_not_retried():
    rule = lambda body: ("status", 400) if last_user(body) == "bad" else None  # noqa: E731
    with ScriptedServer(rule=rule) as server, make_engine("openai", None, base_url=server.url, **FAST) as engine:
        out = engine.generate([ask("bad")])
    assert out[0][0].finish_reason == "error" and "HTTP 400" in out[0][0].error
    assert server.calls == 1


def test_a_slow_answer_times_out_and_is_retried():
    with ScriptedServer({1: ("sleep", 5.0)}) as server, \
            make_engine("openai", None, base_url=server.url, timeout_s=1.5, **FAST) as engine:
        out = engine.generate([ask("slow")])
    assert out[0][0].text == "echo: slow" and engine.retries == 1


def test_a_down_server_is_failed_over_and_the_live_one_takes_the_load():
    dead = down_url()
    with ScriptedServer() as server, \
            make_engine("openai", None, base_url=[dead, server.url], **FAST) as engine:
        out = engine.generate([ask(str(i)) for i in range(6)])
        stats = engine.server_stats()
    assert [s[0].text for s in out] == [f"echo: {i}" for i in range(6)]
    assert stats[dead]["ok"] == 0 and stats[dead]["connection_errors"] >= 1
    assert stats[server.url]["ok"] == 6


def test_concurrency_is_bounded_per_server_and_requests_spread_over_servers():
    with ScriptedServer(delay_s=0.2) as one, ScriptedServer(delay_s=0.2) as two, \
            make_engine("openai", None, base_url=[one.url, two.url], concurrency=2, **FAST) as engine:
        engine.generate([ask(str(i)) for i in range(12)])
    assert one.max_in_flight == 2 and two.max_in_flight == 2  # bounded, and the bound was reached
    assert one.calls + two.calls == 12 and one.calls >= 4 and two.calls >= 4


def test_n_is_topped_up_with_seeded_requests_when_the_server_ignores_it():
    request = ask("pick")
    params = GenerationParams(max_new_tokens=4, n=3, temperature=0.8, seed=7)
    with ScriptedServer(honour_n=False) as server, make_engine("openai", None, base_url=server.url) as engine:
        out = engine.generate([request], params)
    assert len(out[0]) == 3 and server.calls == 3
    assert server.bodies[0]["n"] == 3
    assert sorted(b["seed"] for b in server.bodies) == sorted(request_seed(request, 7, i) for i in range(3))


def test_n_is_one_request_when_the_server_honours_it_and_greedy_asks_once():
    sampled = GenerationParams(max_new_tokens=4, n=3, temperature=0.8)
    with ScriptedServer(honour_n=True) as server, make_engine("openai", None, base_url=server.url) as engine:
        assert len(engine.generate([ask("x")], sampled)[0]) == 3
        assert server.calls == 1
        greedy = engine.generate([ask("y")], GenerationParams(max_new_tokens=4, n=4))
        assert server.calls == 2 and len({g.text for g in greedy[0]}) == 1 and len(greedy[0]) == 4
        assert "n" not in server.bodies[1]


def test_native_n_off_sends_one_request_per_sample():
    params = GenerationParams(max_new_tokens=4, n=3, temperature=0.8)
    with ScriptedServer(honour_n=True) as server, \
            make_engine("openai", None, base_url=server.url, native_n=False) as engine:
        engine.generate([ask("x")], params)
    assert server.calls == 3 and all("n" not in b for b in server.bodies)


def test_params_tools_and_tool_calls_translate_both_ways():
    tools = '[{"name": "get_weather", "description": "weather", "parameters": {"type": "object"}}]'
    call = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"北京\"}"}}
    reply = completion("", tool_calls=[call], finish_reason="tool_calls")
    params = GenerationParams(max_new_tokens=9, temperature=0.5, top_p=0.9, top_k=20, stop=("END",),
                              repetition_penalty=1.1)
    with ScriptedServer({1: reply}) as server, make_engine("openai", "served-name", base_url=server.url) as engine:
        out = engine.generate([ask("天气?", tools)], params)
    body = server.bodies[0]
    assert body["model"] == "served-name" and body["max_tokens"] == 9 and body["stop"] == ["END"]
    assert body["top_k"] == 20 and body["repeat_penalty"] == 1.1 and body["top_p"] == 0.9
    assert body["tools"] == [{"type": "function", "function": {"name": "get_weather", "description": "weather",
                                                               "parameters": {"type": "object"}}}]
    assert out[0][0].tool_calls == [{"id": "c1", "name": "get_weather", "arguments": "{\"city\": \"北京\"}"}]
    assert out[0][0].finish_reason == "stop"


def test_a_chinese_character_cut_by_the_token_limit_leaves_no_replacement_character():
    with ScriptedServer({1: completion("北京是中国的首\ufffd", finish_reason="length")}) as server, \
            make_engine("openai", None, base_url=server.url) as engine:
        out = engine.generate([ask("介绍北京")], GenerationParams(max_new_tokens=8))
    assert out[0][0].text == "北京是中国的首" and out[0][0].finish_reason == "length"


def test_the_api_key_is_sent_but_never_logged_fingerprinted_or_shown(monkeypatch, caplog):
    secret = "sk-test-5f1c9e2d7a"
    monkeypatch.setenv("TEST_SYNTH_KEY", secret)
    caplog.set_level(logging.DEBUG)
    rule = lambda body: ("status", 401) if last_user(body) == "deny" else None  # noqa: E731
    with ScriptedServer(rule=rule) as server, \
            make_engine("openai", None, base_url=server.url, api_key_env="TEST_SYNTH_KEY") as engine:
        out = engine.generate([ask("ok"), ask("deny")])
        assert server.headers_seen[0]["authorization"] == f"Bearer {secret}"
        assert "rejected Bearer ***" in out[1][0].error  # the server echoed it; we scrubbed it
        shown = [engine.fingerprint(), engine.cache_key(ask("ok"), GenerationParams()),
                 str(engine.config.model_dump()), out[1][0].error, caplog.text]
    assert not any(secret in text for text in shown)
    monkeypatch.delenv("TEST_SYNTH_KEY")
    with pytest.raises(UserError, match="TEST_SYNTH_KEY"):
        make_engine("openai", None, base_url=server.url, api_key_env="TEST_SYNTH_KEY")


def test_the_fingerprint_is_the_served_model_id_not_the_url():
    with ScriptedServer() as a, ScriptedServer() as b, \
            make_engine("openai", None, base_url=a.url) as one, make_engine("openai", None, base_url=b.url) as two:
        assert one.fingerprint() == two.fingerprint() == "openai:scripted-model"
        assert one.cache_key(ask("x"), GenerationParams()) == two.cache_key(ask("x"), GenerationParams())


def test_it_works_inside_a_running_event_loop_and_close_releases_connections():
    with ScriptedServer() as server:
        engine = make_engine("openai", None, base_url=server.url)

        async def notebook_cell():  # what Jupyter does: a loop is already running
            return engine.generate([ask("from a notebook")])

        out = asyncio.run(notebook_cell())
        assert out[0][0].text == "echo: from a notebook"
        assert server.connections >= 1  # keep-alive connection still open
        engine.close()
        engine.close()  # twice is fine
        deadline = time.monotonic() + 5
        while server.connections and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.connections == 0


def test_bad_options_fail_with_the_nearest_name():
    with pytest.raises(UserError, match="did you mean 'base_url'"):
        make_engine("openai", None, base_ur="http://x/v1")
    with pytest.raises(UserError, match="http:// or https://"):
        make_engine("openai", None, base_url="localhost:8000")


@pytest.mark.slow
def test_real_generation_through_llama_cpp_server(llama_server):
    """Real model behind a real OpenAI-compatible server: greedy is deterministic, the
    token limit is reported, the fingerprint is the id the server reports."""
    with make_engine("openai", None, base_url=llama_server.url) as engine:
        params = GenerationParams(max_new_tokens=8)
        first = engine.generate([ask("Name a color."), ask("用一句话介绍北京。")], params)
        again = engine.generate([ask("Name a color.")], params)
        assert engine.fingerprint() == f"openai:{llama_server.model_id}"
    assert first[0][0].text == again[0][0].text and first[0][0].text
    # (llama.cpp's server may count one token more than max_tokens when it held back the
    # first half of a split character, so only "some tokens" is asserted)
    assert all(s[0].finish_reason in ("stop", "length") and s[0].completion_tokens > 0 for s in first)
    assert not first[1][0].text.endswith("\ufffd")
