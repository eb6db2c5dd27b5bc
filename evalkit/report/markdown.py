"""report.md: the comparison as GitHub-flavoured Markdown (plots linked as PNG files)."""

from __future__ import annotations

from ..compare import Comparison
from . import tables
from .tables import Table


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ⏎ ")


def md_table(table: Table) -> str:
    headers, rows = table
    lines = ["| " + " | ".join(_cell(h) for h in headers) + " |",
             "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(comparison: Comparison, plot_files: dict[str, str]) -> str:
    """The whole report; ``plot_files`` maps plot stem -> path relative to report.md."""
    base = comparison.names[0]
    parts = [
        f"# evalkit comparison: {' vs '.join(comparison.names)}",
        f"Baseline: **{base}**. Deltas are each run minus the baseline; CIs are "
        f"{comparison.confidence:.0%} paired-bootstrap percentile intervals over examples "
        f"({comparison.n_boot} resamples, seed {comparison.seed}). A delta is significant "
        "when its CI excludes 0. ↑/↓: higher/lower is better.",
        "## Runs", md_table(tables.runs_table(comparison)),
        "## Metrics", md_table(tables.metric_table(comparison)),
        "Method: `corpus` = the metric's corpus formula recomputed on every resample from counts "
        "extracted once (BLEU, PPL, Distinct-n, Self-BLEU); `mean` = the corpus score is the mean "
        "of per-example values; `none` = the score cannot be recomputed from the run (no "
        "per-example values): no CI.",
    ]
    if comparison.outcomes.height:
        parts += ["## Per-example wins / ties / losses", md_table(tables.outcome_table(comparison))]
    judge = tables.judge_table(comparison)
    if judge is not None:
        parts += ["## Judge win-rate", md_table(judge)]
    regressions = tables.regression_tables(comparison)
    parts.append("## Examples that got worse")
    parts += [f"### {title}\n\n{md_table(t)}" for title, t in regressions] or ["None."]
    if plot_files:
        parts.append("## Plots")
        parts += [f"![{stem}]({path})" for stem, path in plot_files.items()]
    parts += ["## Signatures", md_table(tables.signature_table(comparison))]
    parts += [f"> {note}" for note in comparison.notes]
    return "\n\n".join(parts) + "\n"
