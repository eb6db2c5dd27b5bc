"""The README's 5-minute tour runs as written, in order: every command of its bash blocks
and every Python block, in a fresh folder that sees the repository's ``recipes/``.

A tour command that breaks fails this test, so the README cannot drift from the code.
``source .venv/bin/activate`` is the one line not run: the test puts the venv's scripts
on PATH instead.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"```(bash|python)\n(.*?)```", re.DOTALL)


def tour_blocks() -> list[tuple[str, str]]:
    """(language, code) of every bash/python block in the README's tour section."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index("## A 5-minute tour")
    end = text.index("\n## ", start + 1)
    return BLOCK.findall(text[start:end])


def bash_commands(code: str) -> list[str]:
    """Commands of a bash block: continuation lines joined, comments and blanks dropped."""
    commands, current = [], ""
    for line in code.splitlines():
        current += line.rstrip("\\").rstrip() + " " if line.rstrip().endswith("\\") else line
        if not line.rstrip().endswith("\\"):
            command = current.strip()
            current = ""
            if command and not command.startswith("#") and not command.startswith("source "):
                commands.append(command)
    return commands


def test_the_tour_has_bash_and_python_blocks():
    kinds = [kind for kind, _ in tour_blocks()]
    assert "bash" in kinds and "python" in kinds
    assert sum(len(bash_commands(code)) for kind, code in tour_blocks() if kind == "bash") >= 15


@pytest.mark.slow
def test_every_tour_command_runs_as_written(tmp_path: Path):
    (tmp_path / "recipes").symlink_to(REPO / "recipes")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "POSTTRAIN_PROGRESS": "0", "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    for kind, code in tour_blocks():
        steps = bash_commands(code) if kind == "bash" else [code]
        for step in steps:
            args = ["bash", "-c", step] if kind == "bash" else [sys.executable, "-c", step]
            done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, f"README tour step failed:\n{step}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            assert "Traceback" not in done.stderr, f"{step}\n{done.stderr[-3000:]}"
