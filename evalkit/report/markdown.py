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


def comparison_markdown(comparison: Comparison, plot_files: dict[str, str], level: int = 2) -> list[str]:
    """The comparison's sections with ``level`` headings (see ``html.comparison_html``);
    ``plot_files`` maps plot stem -> path relative to the Markdown file."""
    h, sub = "#" * level, "#" * (level + 1)
    base = comparison.names[0]
    parts = [
        f"Baseline: **{base}**. Deltas are each run minus the baseline; CIs are "
        f"{comparison.confidence:.0%} paired-bootstrap percentile intervals over examples "
        f"({comparison.n_boot} resamples, seed {comparison.seed}). A delta is significant "
        "when its CI excludes 0. ↑/↓: higher/lower is better.",
        f"{h} Runs", md_table(tables.runs_table(comparison)),
        f"{h} Metrics", md_table(tables.metric_table(comparison)),
        "Method: `corpus` = the metric's corpus formula recomputed on every resample from counts "
        "extracted once (BLEU, PPL, Distinct-n, Self-BLEU); `mean` = the corpus score is the mean "
        "of per-example values; `none` = the score cannot be recomputed from the run (no "
        "per-example values): no CI.",
    ]
    if comparison.outcomes.height:
        parts += [f"{h} Per-example wins / ties / losses", md_table(tables.outcome_table(comparison))]
    judge = tables.judge_table(comparison)
    if judge is not None:
        parts += [f"{h} Judge win-rate", md_table(judge)]
    regressions = tables.regression_tables(comparison)
    parts.append(f"{h} Examples that got worse")
    parts += [f"{sub} {title}\n\n{md_table(t)}" for title, t in regressions] or ["None."]
    if plot_files:
        parts.append(f"{h} Plots")
        parts += [f"![{stem}]({path})" for stem, path in plot_files.items()]
    parts += [f"{h} Signatures", md_table(tables.signature_table(comparison))]
    parts += [f"> {note}" for note in comparison.notes]
    return parts


def render_markdown(comparison: Comparison, plot_files: dict[str, str]) -> str:
    """The whole report; ``plot_files`` maps plot stem -> path relative to report.md."""
    heading = f"# evalkit comparison: {' vs '.join(comparison.names)}"
    return "\n\n".join([heading, *comparison_markdown(comparison, plot_files)]) + "\n"
