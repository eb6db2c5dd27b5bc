"""Real HTTP servers on localhost for the ``openai`` engine's tests.

* :class:`ScriptedServer` speaks the chat-completions protocol and misbehaves on chosen
  calls (429, 500, a dropped connection, a slow answer), so retries and failover are
  exercised over real sockets. Its answers are canned text (``echo: <last user turn>``):
  the model is not what these tests are about.
* :class:`CountingProxy` forwards every request to a real server (llama.cpp's) and
  counts and records what passed, so a test can say exactly how many requests a run sent.
* :func:`free_port` / :func:`down_url`: a port nothing listens on.
* :func:`start_llama_server`: ``python -m llama_cpp.server`` on the embedded GGUF.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def down_url() -> str:
    """A base URL where nothing listens (connections are refused)."""
    return f"http://127.0.0.1:{free_port()}/v1"


class _Base(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.lock = threading.Lock()
        self.calls = 0  # chat-completion requests received
        self.bodies: list[dict[str, Any]] = []
        self.headers_seen: list[dict[str, str]] = []
        self.connections = 0  # open right now
        self.in_flight = 0
        self.max_in_flight = 0
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def __enter__(self):  # type: ignore[no-untyped-def]
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
    server: _Base

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.lock:
                self.server.connections -= 1

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _read_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))


def completion(text: str, *, finish_reason: str = "stop", n: int = 1, tokens: int = 3,
               tool_calls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": "scripted-model",
        "choices": [{"index": i, "message": message, "finish_reason": finish_reason} for i in range(n)],
        "usage": {"prompt_tokens": 5, "completion_tokens": tokens * n, "total_tokens": 5 + tokens * n},
    }


def last_user(body: dict[str, Any]) -> str:
    return next((m.get("content") or "" for m in reversed(body["messages"]) if m["role"] == "user"), "")


def echo(body: dict[str, Any]) -> str:
    return f"echo: {last_user(body)}"


Action = str | tuple[str, float] | dict[str, Any]


class ScriptedServer(_Base):
    """``script[k]`` decides the k-th chat call (1-based): ``"429"``, ``"500"``, ``"drop"``
    (close the socket without answering), ``("sleep", s)`` then answer, or a response
    JSON dict; ``rule(body)`` may decide any call the same way (None: answer normally).
    A normal answer is ``reply(body)`` (default ``echo: <last user content>``), with
    ``n`` choices when ``honour_n`` (llama.cpp's server ignores ``n``: one choice).
    ``delay_s`` slows every answer (to observe concurrency)."""

    def __init__(self, script: dict[int, Action] | None = None, *, delay_s: float = 0.0,
                 honour_n: bool = False, rule: Callable[[dict[str, Any]], Action | None] | None = None,
                 reply: Callable[[dict[str, Any]], str] | None = None) -> None:
        self.script = dict(script or {})
        self.rule = rule
        self.reply = reply
        self.delay_s = delay_s
        self.honour_n = honour_n
        super().__init__(_ScriptedHandler)


class _ScriptedHandler(_Handler):
    server: ScriptedServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path.rstrip("/").endswith("/models"):
            self._send_json(200, {"object": "list", "data": [{"id": "scripted-model", "object": "model",
                                                               "created": 0, "owned_by": "test"}]})
        else:
            self._send_json(404, {"error": "not found"})

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self._read_body() or b"{}")
        srv = self.server
        with srv.lock:
            srv.calls += 1
            call = srv.calls
            srv.bodies.append(body)
            srv.headers_seen.append({k.lower(): v for k, v in self.headers.items()})
            srv.in_flight += 1
            srv.max_in_flight = max(srv.max_in_flight, srv.in_flight)
        action = srv.script.get(call)
        if action is None and srv.rule is not None:
            action = srv.rule(body)
        try:
            self._answer(action, body)
        finally:
            with srv.lock:
                srv.in_flight -= 1

    def _answer(self, action: Action | None, body: dict[str, Any]) -> None:
        if self.server.delay_s:
            time.sleep(self.server.delay_s)
        if action == "429":
            self._send_json(429, {"error": {"message": "slow down"}}, {"Retry-After": "0"})
        elif action == "500":
            self._send_json(500, {"error": {"message": "boom"}})
        elif action == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        elif isinstance(action, tuple) and action[0] == "status":
            # a careless server that echoes the request's credentials in its error text
            self._send_json(int(action[1]), {"error": {"message": f"rejected {self.headers.get('Authorization')}"}})
        elif isinstance(action, tuple) and action[0] == "sleep":
            time.sleep(action[1])
            self._answer(None, body)
        elif isinstance(action, dict):
            self._send_json(200, action)
        else:
            n = int(body.get("n") or 1) if self.server.honour_n else 1
            reply = self.server.reply or echo
            self._send_json(200, completion(reply(body), n=n))


class CountingProxy(_Base):
    """Forwards to ``upstream`` (a base URL), counting chat calls; ``delay_s`` before each."""

    def __init__(self, upstream: str, *, delay_s: float = 0.0) -> None:
        self.upstream = upstream.rstrip("/")
        self.delay_s = delay_s
        super().__init__(_ProxyHandler)


class _ProxyHandler(_Handler):
    server: CountingProxy

    def _forward(self, method: str) -> None:
        srv = self.server
        body = self._read_body() if method == "POST" else None
        if method == "POST" and self.path.endswith("/chat/completions"):
            with srv.lock:
                srv.calls += 1
                srv.bodies.append(json.loads(body or b"{}"))
            if srv.delay_s:
                time.sleep(srv.delay_s)
        host = srv.upstream.split("//", 1)[1].split("/", 1)[0]
        conn = http.client.HTTPConnection(host, timeout=300)
        path = self.path if self.path.startswith("/v1") else "/v1" + self.path
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
        answer = conn.getresponse()
        data = answer.read()
        conn.close()
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.getheader("Content-Type", "application/json"))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        self._forward("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._forward("POST")


def start_llama_server(gguf: Path, log: Path, *, n_ctx: int = 2048, timeout_s: float = 120.0
                       ) -> tuple[subprocess.Popen[bytes], str]:
    """``python -m llama_cpp.server`` on a free port, its output in ``log``; returns
    (process, base URL) once it answers ``/v1/models``. The caller stops it."""
    port = free_port()
    out = open(log, "wb")  # noqa: SIM115 - the server writes to it for its whole life
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", str(n_ctx), "--n_threads", "1"],
        stdout=out, stderr=subprocess.STDOUT,
    )
    out.close()  # the child holds its own descriptor
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/models", timeout=2) as resp:
                if resp.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise RuntimeError(f"llama_cpp.server did not answer within {timeout_s} s")
