"""Write a comparison to a report folder.

::

    report.md            Markdown, plots linked from plots/
    report.html          self-contained: inline CSS, plots embedded as base64 PNG
    plots/*.png          scores with CIs, deltas with paired CIs, wins/ties/losses, lengths
    comparison.json      the frames behind the report, for scripts
    judge_verdicts.jsonl per-example judge verdicts, when a judge ran (``evalkit human
                         import --judge-results`` reads it to measure agreement)

Every file is written atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dataforge.outputs import claim_folder

from ..compare import Comparison
from ..store import write_bytes, write_json, write_text
from .html import render_html
from .markdown import render_markdown


def write_report(comparison: Comparison, out_dir: str | Path, *, overwrite: bool = False) -> dict[str, Path]:
    """Render every report file into ``out_dir`` (new, empty or an earlier report folder;
    ``overwrite`` allows another folder); returns name -> path."""
    # matplotlib (the `eval` extra) only here: `evalkit human import` and `evalkit arena`
    # format numbers with .tables and run without it
    from .plots import all_plots

    out = claim_folder(out_dir, "evalkit compare", overwrite=overwrite)
    plots = all_plots(comparison)
    files: dict[str, Path] = {}
    for stem, png in plots.items():
        files[f"plots/{stem}.png"] = out / "plots" / f"{stem}.png"
        write_bytes(files[f"plots/{stem}.png"], png)
    files["report.md"] = out / "report.md"
    write_text(files["report.md"], render_markdown(comparison, {s: f"plots/{s}.png" for s in plots}))
    files["report.html"] = out / "report.html"
    write_text(files["report.html"], render_html(comparison, plots))
    files.update(write_comparison_data(comparison, out))
    return files


def comparison_data(comparison: Comparison) -> dict[str, Any]:
    """The frames behind a report, as JSON-able data (``comparison.json``)."""
    return {
        "runs": [{"name": r.name, "path": str(r.path) if r.path else None, "data_sha256": r.data_hash}
                 for r in comparison.runs],
        "n_boot": comparison.n_boot, "confidence": comparison.confidence, "seed": comparison.seed,
        "table": comparison.table.to_dicts(),
        "outcomes": comparison.outcomes.to_dicts(),
        "regressions": comparison.regressions.to_dicts(),
        "judge": comparison.judge.to_dicts() if comparison.judge is not None else None,
        "notes": comparison.notes,
    }


def write_comparison_data(comparison: Comparison, out: Path) -> dict[str, Path]:
    """``comparison.json`` and, when a judge ran, ``judge_verdicts.jsonl`` into ``out``."""
    files = {"comparison.json": out / "comparison.json"}
    write_json(files["comparison.json"], comparison_data(comparison))
    if comparison.judge_verdicts is not None:
        files["judge_verdicts.jsonl"] = out / "judge_verdicts.jsonl"
        write_text(files["judge_verdicts.jsonl"], comparison.judge_verdicts.write_ndjson())
    return files


__all__ = ["comparison_data", "write_comparison_data", "write_report"]
