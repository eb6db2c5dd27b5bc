"""What a run folder holds, for ``dataforge runs``: status, stages done, headline results.

A run's ``manifest.json`` says ``running`` from its first stage on; whether it still runs
is told by its lock (``.<name>.lock`` beside the folder, holding the writer's pid): a
live writer means running, none means the run was interrupted (killed) and
``dataforge run`` will resume it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..outputs import OutputLock


@dataclass
class RunStatus:
    name: str
    status: str  # complete | failed | running | interrupted
    done: int  # stages with an output in the folder
    planned: int
    finished_at: str | None
    summary: dict[str, Any] | None  # report/summary.json, when the report was written


def run_status(folder: Path) -> RunStatus:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    status = manifest.get("status", "complete")
    if status == "running" and not OutputLock(folder).held():
        status = "interrupted"
    planned = manifest.get("planned") or [s["name"] for s in manifest.get("stages", [])]
    done = sum((folder / name / "_stage.json").is_file() for name in planned)
    summary_file = folder / "report" / "summary.json"
    summary = json.loads(summary_file.read_text(encoding="utf-8")) if summary_file.is_file() else None
    return RunStatus(folder.name, status, done, len(planned), manifest.get("finished_at"), summary)
