"""Every script in bench/ still starts: its imports resolve and its options parse.

The benchmarks run by hand, rarely, so a refactor that moves a module breaks them
silently (two did after the tree reorganisation). ``--help`` imports everything the
script needs and exits before any work.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
SCRIPTS = sorted(BENCH.glob("*.py"))


def test_bench_folder_has_scripts() -> None:
    assert len(SCRIPTS) >= 10


def _is_script(path: Path) -> bool:
    return '__name__ == "__main__"' in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_bench_script_starts(script: Path) -> None:
    if _is_script(script):
        command = [sys.executable, str(script), "--help"]
    else:  # a module the scripts share: importing it is the check
        command = [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(BENCH)!r}); import {script.stem}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, cwd=BENCH.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    if _is_script(script):
        assert "usage:" in done.stdout
