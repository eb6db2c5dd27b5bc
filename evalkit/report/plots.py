"""The report's plots, rendered headless (Agg) to PNG bytes.

PNG bytes rather than files: the HTML report embeds them as base64 (one self-contained file
to mail or attach to a PR) and the Markdown report links the same bytes written to disk.
Run and metric names may be Chinese, so a CJK-capable font is preferred when one is
installed (matplotlib falls back per glyph through the family list).
"""

from __future__ import annotations

import io
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
from matplotlib import font_manager  # noqa: E402

from ..compare import Comparison  # noqa: E402

_CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
              "Source Han Sans SC", "SimHei", "Microsoft YaHei", "PingFang SC")
_COLORS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3")
_OUTCOME_COLORS = {"wins": "#55A868", "ties": "#BBBBBB", "losses": "#C44E52"}


def _style() -> None:
    installed = {f.name for f in font_manager.fontManager.ttflist}
    plt.rcParams["font.family"] = "sans-serif"
    plt.rcParams["font.sans-serif"] = [f for f in _CJK_FONTS if f in installed] + ["DejaVu Sans"]
    plt.rcParams["axes.unicode_minus"] = False


def _png(fig: plt.Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _grid(n: int, width: float, height: float) -> tuple[plt.Figure, list[plt.Axes]]:
    """A grid of ``n`` panels (metrics differ in scale: BLEU 0-100, BERTScore 0-1)."""
    cols = min(4, max(1, n))
    rows = max(1, math.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.axis("off")
    return fig, flat[:n]


def metric_bars(comparison: Comparison) -> bytes:
    """One panel per metric: each run's score with its bootstrap CI as an error bar."""
    _style()
    table = comparison.table.filter(pl.col("score").is_not_null())
    metrics = list(dict.fromkeys(table["metric"].to_list()))
    fig, axes = _grid(len(metrics), 3.2, 2.6)
    names = comparison.names
    for ax, metric in zip(axes, metrics):
        sub = table.filter(pl.col("metric") == metric)
        score = sub["score"].to_numpy()
        # no CI (corpus-only or proxy metric): NaN error bars are not drawn
        err = np.vstack([score - sub["score_low"].to_numpy(), sub["score_high"].to_numpy() - score])
        ax.bar(range(len(score)), score, yerr=err, capsize=4,
               color=[_COLORS[names.index(r) % len(_COLORS)] for r in sub["run"]])
        ax.set_xticks(range(len(score)), sub["run"].to_list(), rotation=20, ha="right", fontsize=8)
        ax.set_title(f"{metric} {'↑' if sub['higher_is_better'][0] else '↓'}", fontsize=9)
        ax.tick_params(axis="y", labelsize=8)
    fig.suptitle(f"Scores with {comparison.confidence:.0%} bootstrap CIs", fontsize=10)
    fig.tight_layout()
    return _png(fig)


def delta_forest(comparison: Comparison) -> bytes:
    """Per metric: each run's delta vs the baseline with its paired CI; green/red when the
    CI excludes 0 in the better/worse direction, grey otherwise."""
    _style()
    table = comparison.table.filter(pl.col("delta").is_not_null())
    metrics = list(dict.fromkeys(table["metric"].to_list()))
    fig, axes = _grid(len(metrics), 3.2, 0.45 * max(2, len(comparison.names)) + 0.9)
    for ax, metric in zip(axes, metrics):
        sub = table.filter(pl.col("metric") == metric)
        y = np.arange(sub.height)[::-1]
        for yi, row in zip(y, sub.iter_rows(named=True)):
            good = (row["delta"] > 0) == row["higher_is_better"]
            color = ("#55A868" if good else "#C44E52") if row["significant"] else "#777777"
            if row["delta_low"] is not None:
                ax.plot([row["delta_low"], row["delta_high"]], [yi, yi], color=color, lw=2)
            ax.plot(row["delta"], yi, "o", color=color)
        ax.axvline(0.0, color="black", lw=0.8)
        ax.set_yticks(y, sub["run"].to_list(), fontsize=8)
        ax.set_ylim(-0.7, sub.height - 0.3)
        ax.set_title(f"Δ {metric} {'↑' if sub['higher_is_better'][0] else '↓'}", fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
    fig.suptitle(f"Delta vs {comparison.names[0]} with {comparison.confidence:.0%} paired bootstrap CIs",
                 fontsize=10)
    fig.tight_layout()
    return _png(fig)


def length_distributions(comparison: Comparison) -> bytes:
    """Prediction length (characters; fair across Chinese and English) per run."""
    _style()
    lengths = [r.predictions["prediction"].fill_null("").str.len_chars().to_numpy()
               for r in comparison.runs]
    fig, ax = plt.subplots(figsize=(7, 0.55 * len(lengths) + 1.2))
    box = ax.boxplot(lengths, orientation="horizontal", patch_artist=True, showmeans=True)
    for i, patch in enumerate(box["boxes"]):
        patch.set_facecolor(_COLORS[i % len(_COLORS)])
        patch.set_alpha(0.6)
    ax.set_yticks(range(1, len(lengths) + 1), comparison.names, fontsize=8)
    ax.set_xlabel("prediction length (characters)")
    fig.tight_layout()
    return _png(fig)


def win_tie_loss(comparison: Comparison) -> bytes:
    """Per-example wins/ties/losses vs the baseline per metric (and the judge, if run)."""
    _style()
    frame = comparison.outcomes.select("metric", "run", "wins", "ties", "losses")
    if comparison.judge is not None:
        frame = pl.concat([frame, comparison.judge.select(
            pl.lit("judge").alias("metric"), "run", "wins", "ties", "losses")])
    labels = [f"{m} · {r}" for m, r in zip(frame["metric"], frame["run"])]
    fig, ax = plt.subplots(figsize=(7, 0.35 * max(3, len(labels)) + 0.8))
    y = np.arange(len(labels))[::-1]
    left = np.zeros(len(labels))
    for kind, color in _OUTCOME_COLORS.items():
        counts = frame[kind].to_numpy().astype(float)
        ax.barh(y, counts, left=left, color=color, label=kind)
        left += counts
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlabel(f"examples (vs {comparison.names[0]})")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return _png(fig)


def all_plots(comparison: Comparison) -> dict[str, bytes]:
    """Every plot of the report, by file stem."""
    plots = {"scores": metric_bars(comparison), "deltas": delta_forest(comparison),
             "lengths": length_distributions(comparison)}
    if comparison.outcomes.height or comparison.judge is not None:
        plots["win_tie_loss"] = win_tie_loss(comparison)
    return plots
