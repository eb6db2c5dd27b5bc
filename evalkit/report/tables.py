"""The report's tables as plain (headers, rows) of strings, shared by Markdown and HTML.

Formatting lives here once, so the two renderings (and the CLI's rich table) cannot
disagree on what a cell says.
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from ..compare import Comparison

Table = tuple[list[str], list[list[str]]]


def num(x: Any, digits: int = 4) -> str:
    """A score or delta for display ('–' for missing)."""
    if x is None:
        return "–"
    return f"{x:.{digits}g}" if abs(x) >= 1e4 or (0 < abs(x) < 1e-3) else f"{x:.{digits}f}"


def signed(x: Any, digits: int = 4) -> str:
    return "–" if x is None else ("+" if x >= 0 else "") + num(x, digits)


def ci(lo: Any, hi: Any, digits: int = 4) -> str:
    return "–" if lo is None or hi is None else f"[{num(lo, digits)}, {num(hi, digits)}]"


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def judge_ci(row: dict[str, Any]) -> str:
    """A judge row's win-rate CI, or why it has none (too few parseable verdicts)."""
    if _missing(row.get("ci_low")) or _missing(row.get("ci_high")):
        return f"not meaningful ({row.get('judged', 0)} judged)"
    return ci(row["ci_low"], row["ci_high"])


def judge_consistency(row: dict[str, Any]) -> str:
    if _missing(row.get("position_consistency")):
        return f"n/a ({row.get('consistency_pairs', 0)} pairs)"
    return num(row["position_consistency"])


def verdict(row: dict[str, Any]) -> str:
    """'better' / 'worse' when the CI excludes 0 (direction-aware), else 'n.s.'."""
    if row["delta"] is None:
        return ""
    if not row["significant"]:
        return "n.s." if row["method"] != "none" else "no CI"
    return "better" if (row["delta"] > 0) == row["higher_is_better"] else "worse"


def short(text: Any, limit: int = 240) -> str:
    s = "" if text is None else str(text)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def runs_table(comparison: Comparison) -> Table:
    headers = ["run", "kind", "model", "generation", "data (sha256)", "items", "created"]
    rows = []
    for run in comparison.runs:
        m = run.manifest
        params = m.get("engine", {}).get("params") or {}
        gen = ", ".join(f"{k}={params[k]}" for k in ("max_new_tokens", "temperature", "seed") if k in params)
        if m.get("kind") == "lm-eval":
            gen = "lm-eval " + ",".join(m.get("data", {}).get("tasks", []))
        rows.append([run.name, str(m.get("kind", "")), str((m.get("model") or {}).get("ref") or "–"),
                     gen or "–", run.data_hash[:16], str(run.predictions.height),
                     str(m.get("created_at", ""))])
    return headers, rows


def metric_table(comparison: Comparison) -> Table:
    """One row per metric and run: score [CI], delta vs baseline [paired CI], verdict."""
    level = f"{comparison.confidence:.0%}"
    headers = ["metric", "run", "score", f"{level} CI", "Δ vs " + comparison.names[0],
               f"Δ {level} CI", "significant", "method"]
    rows = []
    for row in comparison.table.iter_rows(named=True):
        arrow = "↑" if row["higher_is_better"] else "↓"
        method = row["method"]
        if row["signature_matches_baseline"] is False:
            method += ", signature differs"
        rows.append([f"{row['metric']} {arrow}", row["run"], num(row["score"]),
                     ci(row["score_low"], row["score_high"]), signed(row["delta"]),
                     ci(row["delta_low"], row["delta_high"]), verdict(row), method])
    return headers, rows


def outcome_table(comparison: Comparison) -> Table:
    headers = ["metric", "run", "wins", "ties", "losses"]
    rows = [[r["metric"], r["run"], str(r["wins"]), str(r["ties"]), str(r["losses"])]
            for r in comparison.outcomes.iter_rows(named=True)]
    return headers, rows


def judge_table(comparison: Comparison) -> Table | None:
    """Judge win-rates; the (long) judge signature goes to the signature table instead."""
    if comparison.judge is None:
        return None
    level = f"{comparison.confidence:.0%}"
    headers = ["run", "vs", "wins", "ties", "losses", "unparseable", "win-rate", f"{level} CI",
               "LC win-rate", "position consistency"]
    rows = [[r["run"], comparison.names[0], str(r["wins"]), str(r["ties"]), str(r["losses"]),
             str(r["unparseable"]), num(r["win_rate"]), judge_ci(r), num(r.get("lc_win_rate")),
             judge_consistency(r)]
            for r in comparison.judge.iter_rows(named=True)]
    return headers, rows


def regression_tables(comparison: Comparison) -> list[tuple[str, Table]]:
    """Per (metric, run): the examples that got worse, worst first."""
    out = []
    base = comparison.names[0]
    frame = comparison.regressions
    for (metric, run), group in frame.group_by(["metric", "run"], maintain_order=True):
        headers = ["id", "prompt", "reference", base, str(run), "before", "after", "change"]
        rows = [[r["id"], short(r["prompt"]), short(r["reference"]), short(r["baseline_prediction"]),
                 short(r["prediction"]), num(r["baseline_value"]), num(r["value"]), signed(r["change"])]
                for r in group.iter_rows(named=True)]
        out.append((f"{metric} — {run}", (headers, rows)))
    return out


def signature_table(comparison: Comparison) -> Table:
    headers = ["metric", "run", "signature"]
    frame = comparison.table.filter(pl.col("signature").is_not_null() & (pl.col("signature") != ""))
    rows = [[r["metric"], r["run"], r["signature"]] for r in frame.iter_rows(named=True)]
    if comparison.judge is not None:
        rows += [["judge", r["run"], r["signature"]] for r in comparison.judge.iter_rows(named=True)]
    return headers, rows
