"""The ``openai`` engine: any OpenAI-compatible chat-completions server.

``vllm serve``, SGLang, llama.cpp's server and hosted APIs all speak the same protocol, so
one engine covers them, through the official ``openai`` client (async). What it adds on
top of a plain loop of ``client.chat.completions.create`` calls:

* **bounded concurrency**: at most ``concurrency`` requests in flight per server (a
  server with parallel slots keeps them all busy; 8 in flight on llama.cpp's server ran
  6.4x faster than one after another here);
* **several servers at once** (``base_url`` may be a list: data parallel over replicas):
  each request goes to the live server with the fewest requests in flight; a server
  that refuses or drops connections is left out for a probation period that doubles with
  each consecutive failure (capped at ``dead_retry_s``) and then tried again;
* **retries** with exponential backoff and full jitter on 429 (honouring ``Retry-After``),
  5xx, timeouts and dropped connections; 4xx answers other than 408/409/429 are not
  retried (the request itself is wrong). One request that still fails becomes
  ``finish_reason="error"`` with its message; the rest of the batch is unaffected;
* **n samples** the way the project seeds them: greedy decoding asks once and copies
  (like every engine); sampling sends ``n`` with the seed of sample 0, counts the
  choices that came back (llama.cpp's server ignores ``n`` and returns one) and asks for
  each missing sample with its own seed ``request_seed(request, seed, i)``. With
  ``native_n: false`` every sample is its own request (exact token counts per sample);
* **the API key** comes from the environment variable named by ``api_key_env``; it is
  never stored on the config, in the fingerprint, a cache key, a log line or an error
  message (it is scrubbed from server error text too);
* **fingerprint** ``openai:<model id>``: the id the server reports (``/v1/models``), not
  its URL, so replicas of one model share cache entries and a moved server keeps them;
* it runs its event loop on a private thread, so ``generate`` works from plain scripts
  and from notebooks whose event loop is already running; ``close()`` closes every
  connection and stops the thread.

``top_k`` and ``repetition_penalty`` are not OpenAI parameters: they are sent in the
request body (``top_k``, ``repetition_penalty`` and llama.cpp's ``repeat_penalty``) only
when they differ from their neutral values, since hosted APIs reject unknown fields.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import random
import threading
from dataclasses import dataclass, field
from typing import Any, Coroutine, Sequence, TypeVar

from pydantic import Field, field_validator

from ...config import Config, validate_config
from ...errors import UserError
from . import register_engine
from .base import Engine, Generation, GenerationParams, GenerationRequest, drop_incomplete_char, request_seed

_T = TypeVar("_T")
#: HTTP statuses worth retrying: timeout, conflict, rate limit, every server error
_RETRY_STATUS = {408, 409, 429}
_FINISH = {"stop": "stop", "length": "length", "tool_calls": "stop", "function_call": "stop", None: "stop"}
_NO_KEY = "not-needed"  # local servers want no key, the client wants a non-empty string


class OpenAIEngineConfig(Config):
    """Options of the ``openai`` engine."""

    base_url: str | list[str] = Field(
        "http://127.0.0.1:8000/v1",
        description="server URL(s) ending in /v1; a list spreads requests over replicas of one model",
    )
    api_key_env: str | None = Field(
        None, description="name of the environment variable holding the API key (never the key itself)"
    )
    concurrency: int = Field(8, ge=1, description="requests in flight per server")
    timeout_s: float = Field(600.0, gt=0, description="seconds one request may take before it is retried")
    max_retries: int = Field(5, ge=0, description="retries of one request (429, 5xx, timeouts, dropped connections)")
    backoff_s: float = Field(1.0, gt=0, description="first retry delay; doubles per retry, with full jitter")
    backoff_max_s: float = Field(30.0, gt=0, description="longest retry delay")
    dead_retry_s: float = Field(
        30.0, gt=0, description="longest time a server that refuses connections is left out before a new try"
    )
    native_n: bool = Field(
        True, description="send n in one request and top up missing samples; false: one request per sample"
    )
    extra_body: dict[str, Any] = Field(
        default_factory=dict, description="extra JSON fields sent with every request (server-specific options)"
    )

    @field_validator("base_url")
    @classmethod
    def _urls(cls, value: str | list[str]) -> str | list[str]:
        urls = [value] if isinstance(value, str) else value
        if not urls:
            raise ValueError("give at least one base_url")
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"base_url {url!r} must start with http:// or https://")
        return value

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and (not value or not value.replace("_", "").isalnum()):
            raise ValueError("api_key_env is the NAME of an environment variable (letters, digits, _)")
        return value


def to_openai_messages(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Canonical messages -> chat-completions messages (tool-call arguments stay JSON text)."""
    out = []
    for m in messages:
        msg: dict[str, Any] = {"role": m["role"], "content": m.get("content")}
        if m.get("name") is not None:
            msg["name"] = m["name"]
        if m.get("tool_call_id") is not None:
            msg["tool_call_id"] = m["tool_call_id"]
        if m.get("tool_calls"):
            msg["tool_calls"] = [
                {"id": c.get("id") or f"call_{i}", "type": "function",
                 "function": {"name": c.get("name"), "arguments": c.get("arguments") or "{}"}}
                for i, c in enumerate(m["tool_calls"])
            ]
        elif msg["content"] is None:
            msg["content"] = ""
        out.append(msg)
    return out


def to_openai_tools(tools: str | None) -> list[dict[str, Any]] | None:
    """A record's ``tools`` JSON (bare function schemas or ``{"type": "function", ...}``)
    -> the ``tools`` request field."""
    if not tools:
        return None
    parsed = json.loads(tools)
    items = parsed if isinstance(parsed, list) else [parsed]
    return [t if "function" in t else {"type": "function", "function": t} for t in items]


def request_body(request: GenerationRequest, params: GenerationParams, model: str, *, n: int,
                 seed: int | None, extra_body: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments of ``chat.completions.create`` for one request."""
    kwargs: dict[str, Any] = {
        "model": model,
        "messages": to_openai_messages(request.messages),
        "max_tokens": params.max_new_tokens,
        "temperature": params.temperature,
        "top_p": params.top_p,
    }
    if n > 1:
        kwargs["n"] = n
    if seed is not None:
        kwargs["seed"] = seed
    if params.stop:
        kwargs["stop"] = list(params.stop)
    tools = to_openai_tools(request.tools)
    if tools:
        kwargs["tools"] = tools
    extra = dict(extra_body)
    if params.top_k > 0:
        extra.setdefault("top_k", params.top_k)
    if params.repetition_penalty != 1.0:
        extra.setdefault("repetition_penalty", params.repetition_penalty)
        extra.setdefault("repeat_penalty", params.repetition_penalty)
    if extra:
        kwargs["extra_body"] = extra
    return kwargs


def _canonical_calls(calls: Any) -> list[dict[str, str]] | None:
    if not calls:
        return None
    return [{"id": c.id, "name": c.function.name, "arguments": c.function.arguments or "{}"} for c in calls]


@dataclass
class _Server:
    """One base URL: its client and what load spreading and failover need to know."""

    url: str
    client: Any
    in_flight: int = 0
    dead_until: float = 0.0
    consecutive_failures: int = 0
    stats: dict[str, int] = field(default_factory=lambda: {"sent": 0, "ok": 0, "failed": 0, "connection_errors": 0})


class _Failure(Exception):
    """One failed attempt: whether to retry, after how long at least, and a safe message."""

    def __init__(self, message: str, retry: bool, wait_s: float | None = None) -> None:
        super().__init__(message)
        self.retry = retry
        self.wait_s = wait_s


class _LoopThread:
    """An event loop on a daemon thread: coroutines run there whatever the caller's loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="openai-engine", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, _T]) -> _T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


@register_engine
class OpenAIEngine(Engine):
    """Chat completions from one or more OpenAI-compatible servers (see module docstring).

    ``model`` is the model name the servers serve; ``None`` takes the first id the first
    reachable server lists (llama.cpp's server lists its GGUF path).
    """

    kind = "openai"
    Config = OpenAIEngineConfig

    def __init__(self, model: str | None = None, **options: Any) -> None:
        self.config = validate_config(OpenAIEngineConfig, options, "engine 'openai'")
        self._key = self._read_key(self.config.api_key_env)
        urls = [self.config.base_url] if isinstance(self.config.base_url, str) else list(self.config.base_url)
        self._loop = _LoopThread()
        try:
            self._servers = self._loop.run(self._open(urls))
            model_id = self._loop.run(self._model_id(model))
        except BaseException:
            self.close()
            raise
        super().__init__(model_id)
        self.requests_sent = 0  # HTTP requests, retries included
        self.retries = 0

    # -- set-up -------------------------------------------------------------------------

    @staticmethod
    def _read_key(env: str | None) -> str | None:
        if env is None:
            return None
        key = os.environ.get(env)
        if not key:
            raise UserError(f"engine 'openai': environment variable {env} (api_key_env) is not set or empty")
        return key

    async def _open(self, urls: list[str]) -> list[_Server]:
        from openai import AsyncOpenAI

        self._slots = asyncio.Condition()  # created on the engine's own loop, shared by all calls
        return [
            _Server(url, AsyncOpenAI(base_url=url, api_key=self._key or _NO_KEY, max_retries=0,
                                     timeout=self.config.timeout_s))
            for url in urls
        ]

    async def _model_id(self, model: str | None) -> str:
        """``model`` as given, else the first id the first reachable server lists."""
        if model is not None:
            return model
        problems = []
        for server in self._servers:
            try:
                listed = [m.id async for m in server.client.models.list()]
            except Exception as exc:  # noqa: BLE001 - try the next server; report all below
                problems.append(f"{server.url}: {self._safe(exc)}")
                continue
            if listed:
                return listed[0]
            problems.append(f"{server.url}: lists no model")
        raise UserError("engine 'openai': no model given and no server lists one (" + "; ".join(problems) + ")")

    # -- the engine contract ---------------------------------------------------------------

    def fingerprint(self) -> str:
        return f"openai:{self.model}"

    def server_stats(self) -> dict[str, dict[str, int]]:
        """Per base URL: requests sent, succeeded, failed, connection errors."""
        return {s.url: dict(s.stats) for s in self._servers}

    def close(self) -> None:
        loop = getattr(self, "_loop", None)
        if loop is None:
            return
        self._loop = None  # type: ignore[assignment]
        servers = getattr(self, "_servers", [])
        try:
            loop.run(_close_all(servers))
        finally:
            loop.stop()

    def _generate(self, requests: Sequence[GenerationRequest], params: GenerationParams) -> list[list[Generation]]:
        if self._loop is None:
            raise RuntimeError("engine 'openai' is closed")
        return self._loop.run(self._generate_all(requests, params))

    # -- async core -----------------------------------------------------------------------

    async def _generate_all(self, requests: Sequence[GenerationRequest], params: GenerationParams
                            ) -> list[list[Generation]]:
        return list(await asyncio.gather(*(self._samples(r, params) for r in requests)))

    async def _samples(self, request: GenerationRequest, params: GenerationParams) -> list[Generation]:
        """The ``params.n`` samples of one request (see "n samples" in the module docstring)."""
        if params.greedy:
            first = await self._ask(request, params, n=1, seed=params.seed)
            return [first[0]] + [dataclasses.replace(first[0]) for _ in range(params.n - 1)]
        seeds = [request_seed(request, params.seed, i) for i in range(params.n)]
        if not self.config.native_n or params.n == 1:
            groups = await asyncio.gather(*(self._ask(request, params, n=1, seed=s) for s in seeds))
            return [g[0] for g in groups]
        samples = await self._ask(request, params, n=params.n, seed=seeds[0])
        if samples[0].finish_reason == "error":
            return [samples[0]] * params.n
        missing = seeds[len(samples):]
        more = await asyncio.gather(*(self._ask(request, params, n=1, seed=s) for s in missing))
        return samples[:params.n] + [g[0] for g in more]

    async def _ask(self, request: GenerationRequest, params: GenerationParams, *, n: int, seed: int
                   ) -> list[Generation]:
        """One chat completion with retries; its choices, or one error generation."""
        try:
            body = request_body(request, params, self.model, n=n, seed=seed, extra_body=self.config.extra_body)
        except (ValueError, TypeError) as exc:  # tools that are not JSON: this request only
            return [Generation("", finish_reason="error", error=f"bad request: {exc}")]
        attempt = 0
        while True:
            server = await self._acquire()
            try:
                response, failure = await self._send(server, body), None
            except _Failure as caught:
                failure = caught
            finally:
                await self._release(server)  # before any backoff sleep: the slot is free meanwhile
            if failure is None:
                server.stats["ok"] += 1
                return self._to_generations(response)
            attempt += 1
            if not failure.retry or attempt > self.config.max_retries:
                server.stats["failed"] += 1
                tries = f" after {attempt} attempts" if attempt > 1 else ""
                return [Generation("", finish_reason="error", error=f"{failure}{tries}")]
            self.retries += 1
            await asyncio.sleep(self._delay(attempt, failure.wait_s))

    async def _send(self, server: _Server, body: dict[str, Any]) -> Any:
        import openai

        server.stats["sent"] += 1
        self.requests_sent += 1
        try:
            response = await server.client.chat.completions.create(**body)
        except openai.APITimeoutError:
            raise _Failure(f"timed out after {self.config.timeout_s:g} s", retry=True) from None
        except openai.APIConnectionError as exc:
            server.stats["connection_errors"] += 1
            self._mark_dead(server)
            raise _Failure(f"connection to {server.url} failed: {self._safe(exc.__cause__ or exc)}",
                           retry=True) from None
        except openai.APIStatusError as exc:
            status = exc.status_code
            retry = status in _RETRY_STATUS or status >= 500
            raise _Failure(f"HTTP {status}: {self._safe(exc)}", retry=retry,
                           wait_s=_retry_after(exc.response.headers) if status == 429 else None) from None
        server.consecutive_failures = 0
        return response

    def _to_generations(self, response: Any) -> list[Generation]:
        choices = sorted(response.choices or [], key=lambda c: c.index)
        if not choices:
            return [Generation("", finish_reason="error", error="the server returned no choices")]
        used = getattr(response.usage, "completion_tokens", None) or 0
        share = used // len(choices)  # exact for one choice; servers report only the total
        out = []
        for choice in choices:
            reason = _FINISH.get(choice.finish_reason, "error")
            text = choice.message.content or ""
            if reason == "length":
                text = drop_incomplete_char(text)
            error = None if reason != "error" else f"finish_reason {choice.finish_reason!r}"
            out.append(Generation(text, finish_reason=reason, completion_tokens=share, error=error,
                                  tool_calls=_canonical_calls(choice.message.tool_calls)))
        return out

    # -- slots, failover, backoff -------------------------------------------------------------

    async def _acquire(self) -> _Server:
        """The live server with the fewest requests in flight, once one has a free slot."""
        loop = asyncio.get_running_loop()
        async with self._slots:
            while True:
                now = loop.time()
                alive = [s for s in self._servers if s.dead_until <= now]
                free = [s for s in alive if s.in_flight < self.config.concurrency]
                if free:
                    server = min(free, key=lambda s: (s.in_flight, s.stats["sent"]))
                    server.in_flight += 1
                    return server
                # all busy: wait for a release; all dead: wait for the first probation to end
                wake = None if alive else max(0.0, min(s.dead_until for s in self._servers) - now)
                try:
                    await asyncio.wait_for(self._slots.wait(), timeout=wake)
                except asyncio.TimeoutError:
                    pass

    async def _release(self, server: _Server) -> None:
        async with self._slots:
            server.in_flight -= 1
            self._slots.notify_all()

    def _mark_dead(self, server: _Server) -> None:
        server.consecutive_failures += 1
        probation = min(self.config.dead_retry_s, self.config.backoff_s * 2 ** (server.consecutive_failures - 1))
        server.dead_until = asyncio.get_running_loop().time() + probation

    def _delay(self, attempt: int, at_least: float | None) -> float:
        """Exponential backoff with full jitter; a 429's ``Retry-After`` is honoured (capped)."""
        cap = min(self.config.backoff_max_s, self.config.backoff_s * 2 ** (attempt - 1))
        delay = random.uniform(0, cap)
        if at_least is not None:
            delay = max(delay, min(at_least, self.config.backoff_max_s))
        return delay

    def _safe(self, exc: BaseException | str) -> str:
        """An error message fit for logs: the API key scrubbed, one line, bounded."""
        text = " ".join(str(exc).split())
        if self._key:
            text = text.replace(self._key, "***")
        return text if len(text) <= 400 else text[:397] + "..."


def _retry_after(headers: Any) -> float | None:
    try:
        return float(headers.get("retry-after")) if headers.get("retry-after") else None
    except (TypeError, ValueError):  # an HTTP date instead of seconds: use our own backoff
        return None


async def _close_all(servers: list[_Server]) -> None:
    for server in servers:
        await server.client.close()
