"""The report's plots, rendered headless (Agg) to PNG bytes.

PNG bytes rather than files: the HTML report embeds them as base64 (one self-contained file
to mail or attach to a PR) and the Markdown report links the same bytes written to disk.

Run and metric names may be long and Chinese, so:

* fonts with CJK coverage come first in the font list: the known CJK families, then any
  other installed font that has Chinese glyphs (checked in its character map), then
  DejaVu Sans; matplotlib falls back per glyph through that list;
* run names sit on the y axis (one row each, never rotated into each other), long titles
  and labels are wrapped, and every figure uses matplotlib's constrained layout, which
  makes room for its labels. The tests draw each figure and check that no two labels
  overlap.
"""

from __future__ import annotations

import functools
import io
import math
import textwrap
from typing import Callable

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
from matplotlib import font_manager  # noqa: E402

from ..compare import Comparison  # noqa: E402

_CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
              "WenQuanYi Micro Hei", "Droid Sans Fallback", "SimHei", "Microsoft YaHei", "PingFang SC",
              "Hiragino Sans GB", "AR PL UMing CN", "Noto Sans CJK JP")
_COLORS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3")
_OUTCOME_COLORS = {"wins": "#55A868", "ties": "#BBBBBB", "losses": "#C44E52"}
_LABEL_CHARS = 22  # wrap width of tick labels and panel titles


def _draws_chinese(path: str) -> bool:
    from matplotlib.ft2font import FT2Font

    try:
        return ord("中") in FT2Font(path).get_charmap()
    except (OSError, RuntimeError):  # an unreadable font file: not a candidate
        return False


@functools.cache
def cjk_fonts() -> tuple[str, ...]:
    """Installed font families that can draw Chinese, known CJK families first.

    matplotlib's font list is cached on disk when it first runs, so a CJK font installed
    later is missing from it: system font files it does not know are checked and added.
    "Last Resort" fonts map every character to a placeholder box and are never used.
    """
    manager = font_manager.fontManager
    known_files = {entry.fname for entry in manager.ttflist}
    for path in font_manager.findSystemFonts():
        if path not in known_files and _draws_chinese(path):
            manager.addfont(path)
    installed: dict[str, str] = {}
    for entry in manager.ttflist:
        if "last resort" not in entry.name.lower():
            installed.setdefault(entry.name, entry.fname)
    known = [name for name in _CJK_FONTS if name in installed]
    others = [name for name, path in sorted(installed.items()) if name not in known and _draws_chinese(path)]
    return tuple(known + others)


def _style() -> None:
    plt.rcParams["font.family"] = "sans-serif"
    plt.rcParams["font.sans-serif"] = [*cjk_fonts(), "DejaVu Sans"]
    plt.rcParams["axes.unicode_minus"] = False


def _wrap(text: str, width: int = _LABEL_CHARS) -> str:
    # CJK text has no spaces: textwrap then breaks inside the word at ``width`` characters
    return "\n".join(textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False)) or text


def _png(fig: plt.Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _grid(n: int, width: float, height: float) -> tuple[plt.Figure, list[plt.Axes]]:
    """A grid of ``n`` panels (metrics differ in scale: BLEU 0-100, BERTScore 0-1) sharing
    the run axis, so run names are written once per row of panels, left of the first."""
    cols = min(3, max(1, n))
    rows = max(1, math.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols + 1.6, height * rows), squeeze=False,
                             sharey=True, layout="constrained")
    # room between panels for the edge tick labels of both neighbours
    fig.get_layout_engine().set(w_pad=0.12, wspace=0.12, h_pad=0.1)
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.axis("off")
    return fig, flat[:n]


def _run_rows(names: list[str], order: list[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """y positions (first run of ``order`` on top) and wrapped labels, one row per run."""
    order = order or names
    return np.array([len(order) - 1 - order.index(n) for n in names]), [_wrap(n) for n in names]


def _row_height(labels: list[str]) -> float:
    """Inches per run row: room for a wrapped label's lines at fontsize 8."""
    lines = max((label.count("\n") + 1 for label in labels), default=1)
    return 0.22 * lines + 0.12


def metric_bars_figure(comparison: Comparison) -> plt.Figure:
    """One panel per metric: each run's score with its bootstrap CI as an error bar."""
    _style()
    table = comparison.table.filter(pl.col("score").is_not_null())
    metrics = list(dict.fromkeys(table["metric"].to_list()))
    names = comparison.names
    labels = [_wrap(n) for n in names]
    fig, axes = _grid(len(metrics), 2.8, _row_height(labels) * len(names) + 0.9)
    for ax, metric in zip(axes, metrics):
        sub = table.filter(pl.col("metric") == metric)
        y, ticks = _run_rows(sub["run"].to_list(), names)
        ax.barh(y, sub["score"].to_numpy(), height=0.6,
                color=[_COLORS[names.index(r) % len(_COLORS)] for r in sub["run"]])
        # the CI drawn as an interval, not as +- error: a corpus metric's resampled CI need not
        # contain its point value (Distinct-n of a resample with repeated examples is lower)
        low, high = sub["score_low"].to_numpy(), sub["score_high"].to_numpy()
        has_ci = np.isfinite(low) & np.isfinite(high)
        ax.hlines(y[has_ci], low[has_ci], high[has_ci], color="black", lw=1.2)
        ax.plot(np.r_[low[has_ci], high[has_ci]], np.r_[y[has_ci], y[has_ci]], "|", color="black", ms=8)
        ax.set_yticks(y, ticks, fontsize=8)
        ax.set_title(_wrap(f"{metric} {'↑' if sub['higher_is_better'][0] else '↓'}"), fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=4))
    fig.suptitle(f"Scores with {comparison.confidence:.0%} bootstrap CIs", fontsize=10)
    return fig


def delta_forest_figure(comparison: Comparison) -> plt.Figure:
    """Per metric: each run's delta vs the baseline with its paired CI; green/red when the
    CI excludes 0 in the better/worse direction, grey otherwise."""
    _style()
    table = comparison.table.filter(pl.col("delta").is_not_null())
    metrics = list(dict.fromkeys(table["metric"].to_list()))
    labels = [_wrap(n) for n in comparison.names[1:]]
    fig, axes = _grid(len(metrics), 2.8, _row_height(labels) * max(2, len(labels)) + 0.9)
    for ax, metric in zip(axes, metrics):
        sub = table.filter(pl.col("metric") == metric)
        y, ticks = _run_rows(sub["run"].to_list(), comparison.names[1:])
        for yi, row in zip(y, sub.iter_rows(named=True)):
            good = (row["delta"] > 0) == row["higher_is_better"]
            color = ("#55A868" if good else "#C44E52") if row["significant"] else "#777777"
            if row["delta_low"] is not None:
                ax.plot([row["delta_low"], row["delta_high"]], [yi, yi], color=color, lw=2)
            ax.plot(row["delta"], yi, "o", color=color)
        ax.axvline(0.0, color="black", lw=0.8)
        ax.set_yticks(y, ticks, fontsize=8)
        ax.set_ylim(-0.7, len(labels) - 0.3)
        ax.set_title(_wrap(f"Δ {metric} {'↑' if sub['higher_is_better'][0] else '↓'}"), fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=4))
    fig.suptitle(_wrap(f"Delta vs {comparison.names[0]} with {comparison.confidence:.0%} paired bootstrap CIs",
                       80), fontsize=10)
    return fig


def length_figure(comparison: Comparison) -> plt.Figure:
    """Prediction length (characters; fair across Chinese and English) per run."""
    _style()
    lengths = [r.predictions["prediction"].fill_null("").str.len_chars().to_numpy()
               for r in comparison.runs]
    y, ticks = _run_rows(comparison.names)
    fig, ax = plt.subplots(figsize=(7, _row_height(ticks) * len(lengths) + 1.0), layout="constrained")
    box = ax.boxplot(lengths, positions=y, orientation="horizontal", patch_artist=True, showmeans=True)
    for i, patch in enumerate(box["boxes"]):
        patch.set_facecolor(_COLORS[i % len(_COLORS)])
        patch.set_alpha(0.6)
    ax.set_yticks(y, ticks, fontsize=8)
    ax.set_xlabel("prediction length (characters)")
    return fig


def win_tie_loss_figure(comparison: Comparison) -> plt.Figure:
    """Per-example wins/ties/losses vs the baseline per metric (and the judge, if run)."""
    _style()
    frame = comparison.outcomes.select("metric", "run", "wins", "ties", "losses")
    if comparison.judge is not None:
        frame = pl.concat([frame, comparison.judge.select(
            pl.lit("judge").alias("metric"), "run", "wins", "ties", "losses")])
    labels = [_wrap(f"{m} · {r}", 40) for m, r in zip(frame["metric"], frame["run"])]
    fig, ax = plt.subplots(figsize=(7, _row_height(labels) * max(3, len(labels)) + 0.8), layout="constrained")
    y = np.arange(len(labels))[::-1]
    left = np.zeros(len(labels))
    for kind, color in _OUTCOME_COLORS.items():
        counts = frame[kind].to_numpy().astype(float)
        ax.barh(y, counts, left=left, color=color, label=kind)
        left += counts
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlabel(_wrap(f"examples (vs {comparison.names[0]})", 60))
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def figures(comparison: Comparison) -> dict[str, Callable[[Comparison], plt.Figure]]:
    """The report's figure builders, by file stem."""
    builders: dict[str, Callable[[Comparison], plt.Figure]] = {
        "scores": metric_bars_figure, "deltas": delta_forest_figure, "lengths": length_figure}
    if comparison.outcomes.height or comparison.judge is not None:
        builders["win_tie_loss"] = win_tie_loss_figure
    return builders


def counts_png(title: str, counts: dict[str, int], xlabel: str) -> bytes:
    """A bar per bin of a histogram given as counts (``{"0.3": 5, "0.4": 2}``, bins in
    order): score histograms of the run report, where only the counts were kept."""
    _style()
    fig, ax = plt.subplots(figsize=(max(3.2, 0.45 * len(counts) + 1.5), 2.4), layout="constrained")
    ax.bar(range(len(counts)), list(counts.values()), color=_COLORS[0])
    ax.set_xticks(range(len(counts)), list(counts), fontsize=8)
    ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel("count", fontsize=8)
    ax.set_title(_wrap(title, 60), fontsize=9)
    return _png(fig)


def all_plots(comparison: Comparison) -> dict[str, bytes]:
    """Every plot of the report as PNG bytes, by file stem."""
    return {stem: _png(build(comparison)) for stem, build in figures(comparison).items()}
