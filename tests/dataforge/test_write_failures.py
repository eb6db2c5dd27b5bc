"""Writes that fail (full disk, read-only folder) and runs that are killed mid-write.

A failed write is one line naming the output the user asked for (never our temporary),
exit code 2, and leaves no output, temporary or lock behind. A run killed by a signal
in the middle of writing leaves temporaries that the rerun removes, and the rerun's
output is complete.

The full disk is real: the command runs in a subprocess whose file-size limit
(``RLIMIT_FSIZE``) makes the kernel refuse the write with EFBIG, exactly where a full
disk's ENOSPC would come from.
"""

from __future__ import annotations

import json
import os
import resource
import signal
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

REPO = Path(__file__).resolve().parents[2]
_load_commands()


def _cli(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "240"})


def _dataforge(*args: object, limit_bytes: int | None = None) -> subprocess.Popen:
    def limit() -> None:
        if limit_bytes is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return subprocess.Popen(
        [sys.executable, "-m", "dataforge.cli.main", *map(str, args)],
        env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "240"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=limit,
    )


def _chat_file(path: Path, rows: int, broken_every: int = 0) -> Path:
    """``rows`` chats, English and Chinese, with varied text (so Parquet cannot shrink it
    much); every ``broken_every``-th line is not JSON."""
    lines = []
    for i in range(rows):
        if broken_every and i % broken_every == 0:
            lines.append('{"messages": [坏行')
            continue
        user = f"问题 {i}: " + " ".join(f"{(i * 7919 + k * 104729) % 1000003:x}" for k in range(40))
        lines.append(json.dumps({"messages": [{"role": "user", "content": user},
                                              {"role": "assistant", "content": f"answer {i} " + user[::-1]}]},
                                ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _leftovers(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if ".tmp-" in p.name or ".old-" in p.name
                  or p.name.endswith(".lock"))


@pytest.mark.parametrize("target, to", [
    ("out/clean.parquet", "canonical"), ("out/clean.jsonl", "openai"), ("out/lf", "llamafactory"),
])
def test_a_full_disk_in_convert_names_the_output_and_leaves_nothing(tmp_path: Path, target: str, to: str):
    src = _chat_file(tmp_path / "chats.jsonl", 3000, broken_every=100)
    (tmp_path / "out").mkdir()
    proc = _dataforge("convert", src, tmp_path / target, "--to", to, limit_bytes=64 * 1024)
    output = proc.communicate(timeout=300)[0]
    assert proc.returncode == 2, output
    last = output.strip().splitlines()[-1]
    assert last.startswith("error: ") and "File too large" in last and str(tmp_path / target) in last, output
    assert "Traceback" not in output and ".tmp-" not in output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == []  # no output, rejected folder, temp or lock


def test_a_full_disk_in_run_names_the_stage_and_a_rerun_completes(tmp_path: Path):
    src = _chat_file(tmp_path / "chats.jsonl", 3000, broken_every=100)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(json.dumps({"name": "full", "data": {"inputs": [{"path": src.name}], "ops": ["normalize"],
                                                           "split": {"test_ratio": 0.1}}}), encoding="utf-8")
    runs = tmp_path / "runs"
    proc = _dataforge("run", recipe, "--runs-dir", runs, limit_bytes=64 * 1024)
    output = proc.communicate(timeout=300)[0]
    assert proc.returncode == 2, output
    assert f"error: {runs / 'full' / 'data'}: " in output and "File too large" in output and "Traceback" not in output
    assert not (runs / "full" / "data").exists() and _leftovers(runs) == []
    res = _cli("run", recipe, "--runs-dir", runs)  # the disk has room again
    assert res.exit_code == 0, res.output
    data = runs / "full" / "data"
    total = sum(pl.read_parquet(data / f).height for f in ("train.parquet", "test.parquet"))
    assert total + read_rejected(data / "rejected").height == 3000


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders; the full-disk tests cover failing writes")
def test_a_read_only_output_folder_is_refused_by_name(tmp_path: Path):
    src = _chat_file(tmp_path / "chats.jsonl", 20)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        for args in (("convert", src, locked / "out.parquet"), ("apply", src, locked / "out.parquet", "--op", "normalize")):
            res = _cli(*args)
            assert res.exit_code == 2 and "Permission denied" in res.output and str(locked) in res.output, res.output
            assert "Traceback" not in res.output
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


@pytest.mark.parametrize("command", ["convert", "apply", "mix"])
def test_an_output_that_is_an_existing_folder_is_refused(tmp_path: Path, command: str):
    src = _chat_file(tmp_path / "chats.jsonl", 5)
    out = tmp_path / "out.parquet"
    (out / "inside").mkdir(parents=True)
    args = {"convert": ("convert", src, out), "apply": ("apply", src, out, "--op", "normalize"),
            "mix": ("mix", out, "--input", f"{src}:1")}[command]
    res = _cli(*args)
    assert res.exit_code == 2 and "is an existing folder" in res.output and "Traceback" not in res.output
    assert [p.name for p in out.iterdir()] == ["inside"]


def test_split_into_a_path_that_is_a_file_is_refused(tmp_path: Path):
    src = _chat_file(tmp_path / "chats.jsonl", 5)
    taken = tmp_path / "splits"
    taken.write_text("mine", encoding="utf-8")
    res = _cli("split", src, taken)
    assert res.exit_code == 2 and "is not a folder" in res.output and taken.read_text(encoding="utf-8") == "mine"


def _wait_for(folder: Path, pattern: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(pattern in p.name for p in folder.rglob("*")) if folder.exists() else False:
            return
        if proc.poll() is not None:
            pytest.fail(f"finished before it could be killed: {proc.communicate()[0]}")
        time.sleep(0.02)
    pytest.fail(f"no {pattern} appeared in {folder}")


@pytest.mark.parametrize("command", ["convert", "run"])
def test_a_run_killed_mid_write_leaves_no_temporaries_after_the_rerun(tmp_path: Path, command: str):
    """A real process, killed with SIGKILL while its temporaries exist (shards are small,
    so writing takes a while); the rerun takes over the lock, removes the dead process's
    temporaries and writes the whole output."""
    src = _chat_file(tmp_path / "chats.jsonl", 4000, broken_every=50)
    out = tmp_path / "out"
    if command == "convert":
        args = ("convert", src, out / "clean.parquet", "--shard-rows", "100")
    else:
        recipe = tmp_path / "recipe.yaml"
        recipe.write_text(json.dumps({"name": "killed", "data": {"inputs": [{"path": src.name}], "ops": ["normalize"]}}),
                          encoding="utf-8")
        args = ("run", recipe, "--runs-dir", out)
    proc = _dataforge(*args)
    _wait_for(out, ".tmp-", proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert _leftovers(out)  # the kill left temporaries (and a lock) behind
    res = _cli(*args)
    assert res.exit_code == 0, res.output
    assert _leftovers(out) == []
    if command == "convert":
        kept, rejected = pl.read_parquet(out / "clean.parquet"), read_rejected(out / "clean.rejected")
    else:
        kept, rejected = pl.read_parquet(out / "killed" / "data" / "train.parquet"), read_rejected(out / "killed" / "data" / "rejected")
    assert (kept.height, rejected.height) == (4000 - 80, 80)
