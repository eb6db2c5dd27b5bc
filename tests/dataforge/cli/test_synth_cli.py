"""``dataforge synth ...`` end to end: real files, real servers, a real kill.

The resumability test runs ``dataforge synth best-of-k`` as a subprocess against the
embedded model behind llama.cpp's server, through :class:`CountingProxy` (which counts
the chat requests that reach the server), kills it with SIGKILL once part of the work
is in the generation cache, reruns it and checks that exactly the missing requests are
sent; a third run sends none and writes the same data.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from dataforge.cli.app import app
from dataforge.cli.main import _load_commands
from dataforge.rejects import read_rejected
from dataforge.schemas import from_dicts, message
from http_servers import CountingProxy, ScriptedServer

REPO = Path(__file__).resolve().parents[3]
_load_commands()


def prompts_file(path: Path, texts: list[str]) -> Path:
    from_dicts([{"messages": [message("user", t)]} for t in texts]).write_parquet(path)
    return path


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_distill_cli_writes_output_rejected_and_stats(tmp_path):
    src = tmp_path / "prompts.jsonl"
    src.write_text('{"messages": [{"role": "user", "content": "你好"}]}\n'
                   '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "old"}]}\n'
                   'not json\n', encoding="utf-8")
    with ScriptedServer() as server:
        result = invoke("synth", "distill", str(src), str(tmp_path / "out" / "answers.jsonl"), "--to", "openai",
                        "-e", "openai", "-E", f"base_url={server.url}", "--cache-path", str(tmp_path / "c.sqlite"),
                        "--stats-json", str(tmp_path / "stats.json"), "--no-progress")
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in (tmp_path / "out" / "answers.jsonl").read_text("utf-8").splitlines()]
    assert [m["messages"][-1]["content"] for m in lines] == ["echo: 你好", "echo: Hi"]
    rejected = read_rejected(tmp_path / "out" / "answers.rejected")
    assert rejected["reason"].to_list() == ["invalid_json"] and rejected["source_row"].to_list() == [3]
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["rows_in"] + stats["read_rejected"] == 3 and "synth distill" in result.output


def test_cli_refusals_are_one_line_with_exit_code_2(tmp_path):
    src = prompts_file(tmp_path / "p.parquet", ["x"])
    cases = [
        (["synth", "distill", str(src), str(src), "-e", "openai", "-E", "base_url=http://127.0.0.1:9/v1"],
         "is the input"),
        (["synth", "distill", str(src), str(tmp_path / "o.parquet"), "-e", "openai", "-E", "base_ur=x"],
         "did you mean 'base_url'"),
        (["synth", "best-of-k", str(src), str(tmp_path / "b"), "-s", "math_anwser"], "did you mean 'math_answer'"),
        (["synth", "augment", str(src), str(tmp_path / "a.parquet"), "--mode", "shuffle"], "mode"),
        (["synth", "distill", str(src), str(tmp_path / "o.parquet"), "-e", "vlm"], "did you mean 'vllm'"),
    ]
    for args, expected in cases:
        result = invoke(*args)
        assert result.exit_code == 2, (args, result.output)
        assert expected in result.output and "Traceback" not in result.output


def _cached(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM generations").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


@pytest.mark.slow
def test_killed_best_of_k_resumes_and_sends_only_the_missing_requests(llama_server, tmp_path):
    n_prompts, k = 6, 2
    src = prompts_file(tmp_path / "prompts.parquet",
                       ["Name a fruit.", "Name a city.", "Name a color.", "说一种动物。", "Name a tool.", "说一个数字。"])
    db = tmp_path / "cache.sqlite"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_WAIT_POLICY": "PASSIVE"}
    with CountingProxy(llama_server.url, delay_s=0.3) as proxy:
        command = [sys.executable, "-m", "dataforge.cli.main", "synth", "best-of-k", str(src), str(tmp_path / "out"),
                   "-k", str(k), "-s", "length:max_chars=20,slack=4", "--temperature", "1.0",
                   "--max-new-tokens", "8", "--chunk-size", "1", "--cache-path", str(db),
                   "-e", "openai", "-E", f"base_url={proxy.url}", "--no-progress"]
        first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while _cached(db) < 2 and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)  # a crash, not a polite shutdown
        first.wait()
        assert first.returncode == -signal.SIGKILL, first.stdout.read().decode()  # type: ignore[union-attr]
        done = _cached(db)
        assert 0 < done < n_prompts
        assert not (tmp_path / "out" / "sft.parquet").exists()  # nothing half-written

        before = proxy.calls
        rerun = subprocess.run(command, env=env, capture_output=True, text=True)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        # llama.cpp's server ignores n: each prompt costs one request with n=k plus k-1 top-ups
        assert proxy.calls - before == k * (n_prompts - done)
        sft = pl.read_parquet(tmp_path / "out" / "sft.parquet")
        assert sft.height + read_rejected(tmp_path / "out" / "rejected").height == n_prompts

        before = proxy.calls
        warm = subprocess.run(command, env=env, capture_output=True, text=True)
        assert warm.returncode == 0 and proxy.calls == before  # a finished run costs nothing
        assert pl.read_parquet(tmp_path / "out" / "sft.parquet").equals(sft)
