"""report.html: one self-contained file (inline CSS, plots embedded as base64 PNG)."""

from __future__ import annotations

import base64
import html
import re
from importlib import resources
from string import Template

from ..compare import Comparison
from . import tables
from .tables import Table

_VERDICT_CLASSES = {"better", "worse"}
#: numbers, signed deltas, CIs ("[0.41, 0.62]") and the missing-value dash
_NUMERIC = re.compile(r"^[\[\]\d.,+\-–eE%\s]+$")
#: longer cells (prompts, predictions, signatures) may break anywhere; the rest only at spaces
_LONG = 32


def _cell_class(text: str) -> str:
    """``num`` (right-aligned), ``text`` (long: wraps anywhere, keeps newlines) or plain;
    only ``text`` cells wrap, so a header, a number or a word is never split."""
    if text in _VERDICT_CLASSES:
        return text
    if _NUMERIC.match(text):
        return "num"
    return "text" if len(text) > _LONG else ""


def html_table(table: Table) -> str:
    headers, rows = table
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(
            f'<td class="{cls}">{html.escape(c)}</td>' if (cls := _cell_class(c)) else f"<td>{html.escape(c)}</td>"
            for c in row) + "</tr>"
        for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img(stem: str, png: bytes) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<h3>{html.escape(stem)}</h3><img alt="{html.escape(stem)}" src="data:image/png;base64,{data}">'


def render_html(comparison: Comparison, plots: dict[str, bytes]) -> str:
    base = html.escape(comparison.names[0])
    body = [
        f"<h1>evalkit comparison: {html.escape(' vs '.join(comparison.names))}</h1>",
        f'<p class="note">Baseline: <b>{base}</b>. Deltas are each run minus the baseline; CIs are '
        f"{comparison.confidence:.0%} paired-bootstrap percentile intervals over examples "
        f"({comparison.n_boot} resamples, seed {comparison.seed}); significant = CI excludes 0. "
        "↑/↓: higher/lower is better.</p>",
        "<h2>Runs</h2>", html_table(tables.runs_table(comparison)),
        "<h2>Metrics</h2>", html_table(tables.metric_table(comparison)),
        '<p class="note">method: <code>corpus</code> = the metric\'s corpus formula recomputed on every '
        "resample from counts extracted once (BLEU, PPL, Distinct-n, Self-BLEU); <code>mean</code> = "
        "the corpus score is the mean of per-example values; <code>none</code> = the score cannot be "
        "recomputed from the run (no per-example values): no CI.</p>",
    ]
    if "scores" in plots:
        body.append(_img("scores", plots["scores"]))
    if "deltas" in plots:
        body.append(_img("deltas", plots["deltas"]))
    if comparison.outcomes.height:
        body += ["<h2>Per-example wins / ties / losses</h2>", html_table(tables.outcome_table(comparison))]
    judge = tables.judge_table(comparison)
    if judge is not None:
        body += ["<h2>Judge win-rate</h2>", html_table(judge)]
    if "win_tie_loss" in plots:
        body.append(_img("win_tie_loss", plots["win_tie_loss"]))
    if "lengths" in plots:
        body += ["<h2>Prediction lengths</h2>", _img("lengths", plots["lengths"])]
    body.append("<h2>Examples that got worse</h2>")
    regressions = tables.regression_tables(comparison)
    body += [f"<h3>{html.escape(title)}</h3>{html_table(t)}" for title, t in regressions] or ["<p>None.</p>"]
    body += ["<h2>Signatures</h2>", html_table(tables.signature_table(comparison))]
    body += [f'<p class="note">{html.escape(n)}</p>' for n in comparison.notes]
    template = Template(resources.files(__package__).joinpath("template.html").read_text(encoding="utf-8"))
    return template.substitute(title=html.escape("evalkit: " + " vs ".join(comparison.names)),
                               body="\n".join(body))
