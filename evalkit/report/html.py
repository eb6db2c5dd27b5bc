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


def img(title: str, png: bytes, level: int = 3) -> str:
    """A PNG embedded as base64 under a heading (the page stays one self-contained file)."""
    data = base64.b64encode(png).decode("ascii")
    return f'<h{level}>{html.escape(title)}</h{level}><img alt="{html.escape(title)}" src="data:image/png;base64,{data}">'


def comparison_html(comparison: Comparison, plots: dict[str, bytes], level: int = 2) -> list[str]:
    """The comparison's sections (note, runs, metrics, plots, wins, judge, regressions,
    signatures) with ``level`` headings: a whole page here, a part of a run report in
    ``dataforge run``'s report."""
    h, sub = f"h{level}", level + 1
    base = html.escape(comparison.names[0])
    body = [
        f'<p class="note">Baseline: <b>{base}</b>. Deltas are each run minus the baseline; CIs are '
        f"{comparison.confidence:.0%} paired-bootstrap percentile intervals over examples "
        f"({comparison.n_boot} resamples, seed {comparison.seed}); significant = CI excludes 0. "
        "↑/↓: higher/lower is better.</p>",
        f"<{h}>Runs</{h}>", html_table(tables.runs_table(comparison)),
        f"<{h}>Metrics</{h}>", html_table(tables.metric_table(comparison)),
        '<p class="note">method: <code>corpus</code> = the metric\'s corpus formula recomputed on every '
        "resample from counts extracted once (BLEU, PPL, Distinct-n, Self-BLEU); <code>mean</code> = "
        "the corpus score is the mean of per-example values; <code>none</code> = the score cannot be "
        "recomputed from the run (no per-example values): no CI.</p>",
    ]
    if "scores" in plots:
        body.append(img("scores", plots["scores"], sub))
    if "deltas" in plots:
        body.append(img("deltas", plots["deltas"], sub))
    if comparison.outcomes.height:
        body += [f"<{h}>Per-example wins / ties / losses</{h}>", html_table(tables.outcome_table(comparison))]
    judge = tables.judge_table(comparison)
    if judge is not None:
        body += [f"<{h}>Judge win-rate</{h}>", html_table(judge)]
    if "win_tie_loss" in plots:
        body.append(img("win_tie_loss", plots["win_tie_loss"], sub))
    if "lengths" in plots:
        body += [f"<{h}>Prediction lengths</{h}>", img("lengths", plots["lengths"], sub)]
    body.append(f"<{h}>Examples that got worse</{h}>")
    regressions = tables.regression_tables(comparison)
    body += [f"<h{sub}>{html.escape(title)}</h{sub}>{html_table(t)}" for title, t in regressions] or ["<p>None.</p>"]
    body += [f"<{h}>Signatures</{h}>", html_table(tables.signature_table(comparison))]
    body += [f'<p class="note">{html.escape(n)}</p>' for n in comparison.notes]
    return body


def page(title: str, body: list[str]) -> str:
    """The report page: the shared stylesheet (CJK fonts first, wrapping rules) around ``body``."""
    template = Template(resources.files(__package__).joinpath("template.html").read_text(encoding="utf-8"))
    return template.substitute(title=html.escape(title), body="\n".join(body))


def render_html(comparison: Comparison, plots: dict[str, bytes]) -> str:
    heading = f"<h1>evalkit comparison: {html.escape(' vs '.join(comparison.names))}</h1>"
    return page("evalkit: " + " vs ".join(comparison.names), [heading, *comparison_html(comparison, plots)])
