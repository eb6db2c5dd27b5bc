"""Compare eval runs: deltas with paired-bootstrap CIs, and the examples that got worse.

The first run is the baseline; every other run is compared with it, example by example.
Runs must be on the same eval items (same content hash, same ids): a delta between
different test sets means nothing, so :func:`compare` refuses instead of guessing.

Paired bootstrap (Koehn 2004): resample examples with replacement, recompute each run's
corpus metric on the same resample, take percentiles of the difference (see
:mod:`evalkit.bootstrap`). The ``method`` column says how:

* ``corpus``: the metric's own corpus formula recomputed on every resample (BLEU, PPL,
  Distinct-n, Self-BLEU), from counts extracted once;
* ``mean``: the corpus score is the mean of per-example values (exact match, BERTScore,
  JSON validity, lm-eval accuracies), so the resampled mean *is* the metric;
* ``none``: the score cannot be recomputed from the run folder (no per-example values):
  the delta is shown without CI, never significant.

For ``mean`` metrics, examples with a null value in either run (a metric that does not
apply to them) are left out of the paired statistic.

The regression listing's ``change`` is the actual difference (after - before); examples
are ranked by how much worse they got, which for a lower-is-better metric (PPL) is the
largest increase.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import polars as pl

from dataforge.errors import UserError

from .bootstrap import MEAN, NONE, Statistic, mean_statistic, percentile_ci, resample_weights, statistic_for
from .store import METRIC_PREFIX, Run

#: Metrics where a smaller value is better (base name, after any ``task/`` prefix), for
#: runs whose metrics do not declare ``higher_is_better`` (older runs, foreign results).
LOWER_IS_BETTER = frozenset({"ppl", "perplexity", "self_bleu", "selfbleu", "word_perplexity"})
_TIE_EPS = 1e-12


class DataMismatch(UserError, ValueError):
    """Runs were made on different eval items; comparing them would be meaningless."""


@dataclass
class Comparison:
    """Everything ``evalkit compare`` shows, as polars frames (the report renders these).

    ``table``: one row per metric and run (score, its CI, delta vs the baseline, delta CI,
    significance, method). ``outcomes``: per-example wins/ties/losses per metric and run.
    ``regressions``: the examples that got worse, worst first, top-k per metric and run.
    ``judge``/``judge_verdicts``: pairwise-judge summary and per-example verdicts, if asked.
    """

    runs: list[Run]
    table: pl.DataFrame
    outcomes: pl.DataFrame
    regressions: pl.DataFrame
    n_boot: int
    confidence: float
    seed: int
    judge: pl.DataFrame | None = None
    judge_verdicts: pl.DataFrame | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.runs]


def higher_is_better(metric: str, info: dict[str, Any] | None = None) -> bool:
    """Direction of a metric: what the metric says about itself, else the known table."""
    declared = (info or {}).get("higher_is_better")
    if isinstance(declared, bool):
        return declared
    return metric.rsplit("/", 1)[-1].split("@")[0].lower() not in LOWER_IS_BETTER


def check_same_data(runs: Sequence[Run]) -> None:
    """Raise :class:`DataMismatch` naming both hashes if any run differs from the first."""
    base = runs[0]
    base_ids = set(base.predictions["id"].to_list())
    for other in runs[1:]:
        same_hash = other.data_hash == base.data_hash and bool(base.data_hash)
        same_ids = set(other.predictions["id"].to_list()) == base_ids
        if not (same_hash and same_ids):
            raise DataMismatch(
                f"refusing to compare runs on different eval data: {base.name!r} has data hash "
                f"{base.data_hash or '(none)'} ({base.predictions.height} items) but "
                f"{other.name!r} has {other.data_hash or '(none)'} ({other.predictions.height} items)"
                + ("" if same_ids else "; their example ids differ too")
                + ". Re-run both on the same eval file."
            )


def _definition(run: Run, signature: str | None) -> str | None:
    """A signature minus the evaluated model itself (PPL of another model is the point of
    comparing models, not a change of metric definition)."""
    if signature is None:
        return None
    own = f"model:{(run.manifest.get('model') or {}).get('ref')}"
    return "|".join(part for part in signature.split("|") if part != own)


def _label_duplicates(runs: Sequence[Run]) -> None:
    """Give runs that share a folder name distinct labels (``parent/name``, else ``name#i``)."""
    names = [r.name for r in runs]
    for run in runs:
        if names.count(run.name) > 1:
            parent = run.path.parent.name if run.path is not None else ""
            run.label = f"{parent}/{run.name}" if parent else run.name
    labels = [r.name for r in runs]
    for i, run in enumerate(runs):
        if labels.count(run.name) > 1:
            run.label = f"{run.name}#{i + 1}"


def _aligned(runs: Sequence[Run]) -> list[pl.DataFrame]:
    """Each run's predictions in the baseline's id order (ids were checked equal)."""
    order = runs[0].predictions.select("id")
    return [order.join(r.predictions, on="id", how="left", maintain_order="left") for r in runs]


def _per_example(frame: pl.DataFrame, metric: str) -> np.ndarray | None:
    col = METRIC_PREFIX + metric
    if col not in frame.columns:
        return None
    return frame[col].cast(pl.Float64).fill_nan(None).to_numpy().astype(float)


def compare(
    runs: Sequence[Run],
    *,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    top_k: int = 5,
) -> Comparison:
    """Compare ``runs`` (first = baseline): deltas, paired-bootstrap CIs, regressions."""
    if len(runs) < 2:
        raise UserError("compare needs at least two runs")
    check_same_data(runs)
    _label_duplicates(runs)
    frames = _aligned(runs)
    weights = resample_weights(frames[0].height, n_boot, seed)
    rows: list[dict[str, Any]] = []
    outcome_rows: list[dict[str, Any]] = []
    regressions: list[pl.DataFrame] = []
    for metric in dict.fromkeys(m for r in runs for m in r.metrics):
        info = next(r.metrics[metric] for r in runs if metric in r.metrics)
        better_up = higher_is_better(metric, info)
        base_info = runs[0].metrics.get(metric, {})
        base_vals = _per_example(frames[0], metric)
        for run, frame in zip(runs, frames):
            run_info = run.metrics.get(metric, {})
            vals = _per_example(frame, metric)
            stat = statistic_for(metric, run_info, frame, vals)
            row = _score_row(metric, run, run_info, stat, weights, confidence, better_up)
            if run is not runs[0]:
                row.update(_delta(metric, base_info, run_info, frames[0], frame, base_vals, vals,
                                  weights, confidence))
                row["signature_matches_baseline"] = (_definition(run, run_info.get("signature"))
                                                     == _definition(runs[0], base_info.get("signature")))
                if base_vals is not None and vals is not None and np.isfinite(vals - base_vals).any():
                    outcome_rows.append(_outcome(metric, run.name, (vals - base_vals) * (1.0 if better_up else -1.0)))
                    regressions.append(_worst(metric, run.name, frames[0], frame, base_vals, vals,
                                              better_up, top_k))
            rows.append(row)
    table = pl.DataFrame(rows, schema=_TABLE_SCHEMA)
    differ = table.filter(pl.col("signature_matches_baseline") == False)  # noqa: E712 - null = baseline
    notes = [f"{r['metric']} of {r['run']} was computed differently from the baseline "
             f"({r['signature']}); its delta mixes two definitions" for r in differ.iter_rows(named=True)]
    return Comparison(
        runs=list(runs),
        table=table,
        notes=notes,
        outcomes=pl.DataFrame(outcome_rows, schema=_OUTCOME_SCHEMA),
        regressions=pl.concat(regressions) if regressions else pl.DataFrame(schema=_REGRESSION_SCHEMA),
        n_boot=n_boot, confidence=confidence, seed=seed,
    )


_TABLE_SCHEMA: dict[str, pl.DataType] = {
    "metric": pl.String, "run": pl.String, "score": pl.Float64, "score_low": pl.Float64,
    "score_high": pl.Float64, "delta": pl.Float64, "delta_low": pl.Float64,
    "delta_high": pl.Float64, "significant": pl.Boolean, "n_pairs": pl.Int64,
    "method": pl.String, "higher_is_better": pl.Boolean,
    "signature": pl.String, "signature_matches_baseline": pl.Boolean,
}
_OUTCOME_SCHEMA: dict[str, pl.DataType] = {
    "metric": pl.String, "run": pl.String, "wins": pl.Int64, "ties": pl.Int64, "losses": pl.Int64,
}
_REGRESSION_SCHEMA: dict[str, pl.DataType] = {
    "metric": pl.String, "run": pl.String, "id": pl.String, "prompt": pl.String,
    "reference": pl.String, "baseline_prediction": pl.String, "prediction": pl.String,
    "baseline_value": pl.Float64, "value": pl.Float64, "change": pl.Float64,
}


def _score_row(metric: str, run: Run, info: dict[str, Any], stat: Statistic | None,
               weights: np.ndarray, confidence: float, better_up: bool) -> dict[str, Any]:
    """The run's own score and, where the statistic reproduces it, its bootstrap CI."""
    lo = hi = None
    method = NONE if stat is None else stat.method
    if stat is not None:
        lo, hi = percentile_ci(stat(weights), confidence)
    return {
        "metric": metric, "run": run.name, "score": info.get("score"), "score_low": lo,
        "score_high": hi, "delta": None, "delta_low": None, "delta_high": None,
        "significant": None, "n_pairs": None, "method": method,
        "higher_is_better": better_up, "signature": info.get("signature"),
        "signature_matches_baseline": None,
    }


def _delta(metric: str, base_info: dict[str, Any], info: dict[str, Any], base_frame: pl.DataFrame,
           frame: pl.DataFrame, base_vals: np.ndarray | None, vals: np.ndarray | None,
           weights: np.ndarray, confidence: float) -> dict[str, Any]:
    """Delta vs the baseline and its paired CI (both statistics on the same resamples)."""
    base_score, score = base_info.get("score"), info.get("score")
    delta = None if base_score is None or score is None else score - base_score
    stat_a = statistic_for(metric, base_info, base_frame, base_vals)
    stat_b = statistic_for(metric, info, frame, vals)
    if delta is None or stat_a is None or stat_b is None:
        return {"delta": delta, "significant": False if delta is not None else None,
                "n_pairs": 0, "method": NONE}
    if stat_a.method != stat_b.method:  # one run's score is a mean, the other's is not
        return {"delta": delta, "significant": False, "n_pairs": 0, "method": NONE}
    method = stat_a.method
    if method == MEAN:
        assert base_vals is not None and vals is not None  # statistic_for had values
        common = np.isfinite(base_vals) & np.isfinite(vals)
        stat_a, stat_b = mean_statistic(base_vals, common), mean_statistic(vals, common)
    lo, hi = percentile_ci(stat_b(weights) - stat_a(weights), confidence)
    return {
        "delta": delta, "delta_low": lo, "delta_high": hi,
        "significant": lo is not None and hi is not None and (lo > 0.0 or hi < 0.0),
        "n_pairs": int((stat_a.mask & stat_b.mask).sum()), "method": method,
    }


def _outcome(metric: str, run: str, gain: np.ndarray) -> dict[str, Any]:
    valid = gain[np.isfinite(gain)]
    return {"metric": metric, "run": run, "wins": int((valid > _TIE_EPS).sum()),
            "ties": int((np.abs(valid) <= _TIE_EPS).sum()), "losses": int((valid < -_TIE_EPS).sum())}


def _worst(metric: str, run: str, base: pl.DataFrame, other: pl.DataFrame, base_vals: np.ndarray,
           vals: np.ndarray, better_up: bool, top_k: int) -> pl.DataFrame:
    """The ``top_k`` examples that got worse the most. ``change`` is the actual difference
    (value - baseline_value): negative for a higher-is-better metric that dropped,
    positive for a lower-is-better one (PPL) that rose."""
    change = vals - base_vals
    loss = -change if better_up else change  # > 0: worse
    frame = pl.DataFrame({
        "metric": metric, "run": run, "id": base["id"], "prompt": base["prompt"],
        "reference": base["reference"], "baseline_prediction": base["prediction"],
        "prediction": other["prediction"], "baseline_value": base_vals, "value": vals,
        "change": change, "_loss": loss,
    }, schema={**_REGRESSION_SCHEMA, "_loss": pl.Float64}, nan_to_null=True)
    worse = frame.filter(pl.col("_loss") > _TIE_EPS).sort(["_loss", "id"], descending=[True, False])
    return worse.head(top_k).drop("_loss")


def judge_pairs(comparison: Comparison, judge: Any) -> Comparison:
    """Add a pairwise-judge win-rate of every run against the baseline.

    ``judge`` is a ``dataforge.synth.judge.PairwiseJudge`` (position swap on by default).
    Outcomes are from each run's side (win = the run's answer was preferred over the
    baseline's); the summary comes from :func:`evalkit.winrate.win_rate`, with the bootstrap
    settings of the comparison and the answer lengths (characters) for the LC win-rate.
    The per-example verdicts keep the judge's raw replies in both orders, so an
    unparseable verdict can be read.
    """
    from .winrate import win_rate

    frames = _aligned(comparison.runs)
    base = frames[0]
    summaries, verdicts = [], []
    for run, frame in zip(comparison.runs[1:], frames[1:]):
        answers_a = base["prediction"].fill_null("").to_list()
        answers_b = frame["prediction"].fill_null("").to_list()
        results = judge.judge(base["prompt"].to_list(), answers_a, answers_b)
        summary = win_rate(
            [r.outcome for r in results], verdicts_ab=[r.verdict_ab for r in results],
            verdicts_ba=[r.verdict_ba for r in results], len_a=[len(a) for a in answers_a],
            len_b=[len(b) for b in answers_b], n_resamples=comparison.n_boot,
            confidence=comparison.confidence, seed=comparison.seed)
        summaries.append({"run": run.name, **summary.to_dict(),
                          "signature": f"{judge.signature}||{summary.signature}"})
        verdicts.append(pl.DataFrame({
            "run": run.name, "id": base["id"], "winner": [r.winner for r in results],
            "outcome": [r.outcome for r in results], "verdict_ab": [r.verdict_ab for r in results],
            "verdict_ba": [r.verdict_ba for r in results], "consistent": [r.consistent for r in results],
            "judgment_ab": [r.judgment_ab for r in results], "judgment_ba": [r.judgment_ba for r in results],
            "attempts_ab": [r.attempts_ab for r in results], "attempts_ba": [r.attempts_ba for r in results],
        }, schema=_VERDICT_SCHEMA))
    comparison.judge = pl.DataFrame(summaries).with_columns(pl.col(pl.Float64).fill_nan(None))
    comparison.judge_verdicts = pl.concat(verdicts)
    return comparison


_VERDICT_SCHEMA: dict[str, pl.DataType] = {
    "run": pl.String, "id": pl.String, "winner": pl.String, "outcome": pl.String,
    "verdict_ab": pl.String, "verdict_ba": pl.String, "consistent": pl.Boolean,
    "judgment_ab": pl.String, "judgment_ba": pl.String, "attempts_ab": pl.Int64, "attempts_ba": pl.Int64,
}
