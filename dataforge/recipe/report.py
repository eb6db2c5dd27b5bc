"""The run report: ``runs/<name>/report/`` (report.md, one self-contained report.html).

What a reader of a run wants to know, top to bottom: did training help (the headline:
each trained model against the baseline on every eval set), did it forget (a significant
drop on a general set is flagged), what happened to the data (rows in, kept, rejected by
stage and reason, with an example of each), what synthesis accepted (acceptance rates,
score histograms), how training went (curves, health flags), and per eval set the
evalkit comparison: metric table with paired-bootstrap CIs, judge win-rate with
position-swap consistency, the examples that got worse.

The comparison parts are evalkit's own (``evalkit.compare`` and the section renderers of
``evalkit.report``), so a run report and ``evalkit compare`` read the same. Its numbers
(``summary.json``, ``comparison.json``) depend only on the run's inputs, so a resumed run
writes the same ones as an uninterrupted run; only timings and dates differ.

Files: ``report.md`` (plots linked from ``plots/``), ``report.html`` (plots embedded),
``summary.json`` (the headline numbers ``dataforge runs`` lists), and per eval set
``sets/<set>/comparison.json`` (+ ``judge_verdicts.jsonl`` when judged).
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from ..fileio import write_json_atomic, write_text_atomic
from .model import Recipe

if TYPE_CHECKING:
    from .stages.base import StageContext

#: evalkit's objects (``evalkit.compare.Comparison``, ``evalkit.store.Run``): evalkit is
#: imported inside functions only (the recipe is the composition layer)
Comparison = Any
Run = Any

Table = tuple[list[str], list[list[str]]]
#: characters of a rejected record shown as its example
_EXAMPLE_CHARS = 160


class _Doc:
    """The report being written, as Markdown and HTML side by side (same words in both)."""

    def __init__(self) -> None:
        self.md: list[str] = []
        self.html: list[str] = []
        self.plots: dict[str, bytes] = {}

    def heading(self, text: str, level: int) -> None:
        self.md.append(f"{'#' * level} {text}")
        self.html.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def para(self, text: str, note: bool = False) -> None:
        self.md.append(text)
        body = re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))
        body = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", body)
        self.html.append(f'<p class="note">{body}</p>' if note else f"<p>{body}</p>")

    def table(self, table: Table) -> None:
        from evalkit.report.html import html_table
        from evalkit.report.markdown import md_table

        self.md.append(md_table(table))
        self.html.append(html_table(table))

    def image(self, stem: str, png: bytes, title: str, level: int) -> None:
        from evalkit.report.html import img

        self.plots[stem] = png
        self.md.append(f"![{title}](plots/{stem}.png)")
        self.html.append(img(title, png, level))

    def extend(self, md: list[str], html_parts: list[str]) -> None:
        self.md += md
        self.html += html_parts


def _num(x: Any, digits: int = 4) -> str:
    from evalkit.report.tables import num

    return num(x, digits) if isinstance(x, (int, float)) else "–"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


# -- what the report reads -----------------------------------------------------------------


class _Inputs:
    """The run as the report sees it: stage outcomes, eval runs, who is compared with whom."""

    def __init__(self, ctx: "StageContext", stage_names: Sequence[str]) -> None:
        from .stages import evaluated_models

        self.ctx = ctx
        self.recipe: Recipe = ctx.recipe
        self.stages = [ctx.outcomes[n] for n in stage_names if n in ctx.outcomes]
        models = evaluated_models(self.recipe)
        baseline = self.recipe.eval_baseline()
        self.baseline = models[0].label if baseline is not None else None
        self.candidates = [m.label for m in models if m.label != self.baseline]
        if self.baseline is None:
            self.candidates = [m.label for m in models]
        spec = self.recipe.eval
        assert spec is not None
        self.sets: list[tuple[str, str]] = [(s.name, s.role) for s in spec.sets]
        if spec.lm_eval is not None:
            self.sets.append(("lm_eval", spec.lm_eval.role))

    def run(self, model: str, eval_set: str) -> Run:
        from evalkit.store import load_run

        run = load_run(self.ctx.artifact(f"eval.{model}.{eval_set}", "run"))
        run.label = model
        return run

    def outcomes(self, prefix: str) -> list[Any]:
        return [o for o in self.stages if o.name == prefix or o.name.startswith(prefix + ".")]


def build_report(ctx: "StageContext", stage_names: Sequence[str], out: Path) -> dict[str, Any]:
    """Compare, judge and write the report into ``out``; returns the headline summary."""
    inputs = _Inputs(ctx, stage_names)
    comparisons = _compare(inputs, out)
    summary = _summary(inputs, comparisons)
    doc = _Doc()
    recipe = inputs.recipe
    doc.heading(f"Run report: {recipe.name}", 1)
    if recipe.description:
        doc.para(recipe.description)
    _headline(doc, inputs, summary)
    _forgetting(doc, inputs, summary)
    _data_funnel(doc, inputs)
    _synthesis(doc, inputs)
    _training(doc, inputs)
    _eval_sets(doc, inputs, comparisons)
    _stages(doc, inputs)
    from evalkit.report.html import page
    from evalkit.store import write_bytes

    for stem, png in doc.plots.items():
        write_bytes(out / "plots" / f"{stem}.png", png)
    write_text_atomic(out / "report.md", "\n\n".join(doc.md) + "\n")
    write_text_atomic(out / "report.html", page(f"run report: {recipe.name}", doc.html))
    write_json_atomic(out / "summary.json", summary)
    return summary


# -- comparisons -------------------------------------------------------------------------


def _compare(inputs: _Inputs, out: Path) -> dict[str, Comparison]:
    """Per eval set: baseline + candidates compared (and judged), data written to sets/<set>/."""
    from evalkit.compare import compare, judge_pairs
    from evalkit.report import write_comparison_data

    if inputs.baseline is None:
        return {}
    spec = inputs.recipe.eval
    assert spec is not None
    judged = set(spec.judge.sets or [n for n, role in inputs.sets if role == "domain" and n != "lm_eval"]) \
        if spec.judge is not None else set()
    judge = _judge(inputs) if judged else None
    found = {}
    for name, _ in inputs.sets:
        runs = [inputs.run(m, name) for m in [inputs.baseline, *inputs.candidates]]
        boot = spec.bootstrap
        comparison = compare(runs, n_boot=boot.n_boot, confidence=boot.confidence, seed=boot.seed, top_k=boot.top_k)
        if judge is not None and name in judged:
            judge_pairs(comparison, judge)
        folder = out / "sets" / name
        folder.mkdir(parents=True, exist_ok=True)
        write_comparison_data(comparison, folder)
        found[name] = comparison
    return found


def _judge(inputs: _Inputs) -> Any:
    """The recipe's pairwise judge, on a cached engine (re-judging a resumed run is free)."""
    from ..progress import ProgressEngine
    from ..synth.cache import CachedEngine, GenerationCache
    from ..synth.engines import GenerationParams, make_engine
    from ..synth.judge import DEFAULT_RUBRIC, PairwiseJudge

    spec = inputs.recipe.eval
    assert spec is not None and spec.judge is not None
    judge = spec.judge
    engine = make_engine(judge.engine.kind, judge.engine.model, **judge.engine.options)
    cache = GenerationCache(inputs.ctx.input_path(spec.cache_path) if spec.cache_path else None) if spec.cache else None
    shown = ProgressEngine(engine, "judge", chunk=16)
    return PairwiseJudge(CachedEngine(shown, cache) if cache is not None else shown,
                         template=inputs.ctx.input_path(judge.template) if judge.template else None,
                         rubric=judge.rubric or DEFAULT_RUBRIC, params=GenerationParams(max_new_tokens=judge.max_new_tokens),
                         retries=judge.retries)


def _verdict(row: dict[str, Any]) -> str:
    from evalkit.report.tables import verdict

    return verdict(row)


def _summary(inputs: _Inputs, comparisons: dict[str, Comparison]) -> dict[str, Any]:
    """The headline numbers: scores, deltas vs the baseline, win-rates, forgetting."""
    replay = {s.label: s.replay.weight for s in inputs.recipe.train if s.replay is not None}
    summary: dict[str, Any] = {"baseline": inputs.baseline, "candidates": inputs.candidates, "sets": {},
                               "forgetting": [], "replay": replay}
    for name, role in inputs.sets:
        entry: dict[str, Any] = {"role": role, "scores": {}, "deltas": {}, "win_rate": {}}
        for model in ([inputs.baseline] if inputs.baseline else []) + inputs.candidates:
            run = inputs.run(model, name)
            entry["scores"][model] = {m: v.get("score") for m, v in run.metrics.items()}
        comparison = comparisons.get(name)
        if comparison is not None:
            for row in comparison.table.iter_rows(named=True):
                if row["run"] == inputs.baseline:
                    continue
                delta = {"delta": row["delta"], "low": row["delta_low"], "high": row["delta_high"],
                         "significant": row["significant"], "verdict": _verdict(row)}
                entry["deltas"].setdefault(row["run"], {})[row["metric"]] = delta
                if role == "general" and delta["verdict"] == "worse":
                    summary["forgetting"].append({"model": row["run"], "set": name, "metric": row["metric"],
                                                  **delta, "replay": replay.get(row["run"])})
            if comparison.judge is not None:
                for row in comparison.judge.iter_rows(named=True):
                    entry["win_rate"][row["run"]] = {k: row.get(k) for k in (
                        "win_rate", "ci_low", "ci_high", "judged", "wins", "ties", "losses", "unparseable",
                        "position_consistency", "consistency_pairs", "lc_win_rate")}
        summary["sets"][name] = entry
    return summary


# -- sections ------------------------------------------------------------------------------


def _headline(doc: _Doc, inputs: _Inputs, summary: dict[str, Any]) -> None:
    from evalkit.report.tables import judge_ci, judge_consistency

    doc.heading("Summary", 2)
    models = ", ".join(f"`{m}`" for m in inputs.candidates)
    if inputs.baseline is None:
        doc.para(f"Evaluated {models}; no baseline, so no comparison.")
        headers = ["model", "set", *sorted({m for s in summary["sets"].values() for sc in s["scores"].values()
                                              for m in sc})]
        rows = [[model, name, *[_num(s["scores"][model].get(h)) for h in headers[2:]]]
                for name, s in summary["sets"].items() for model in s["scores"]]
        doc.table((headers, rows))
        return
    doc.para(f"Trained {models} compared with the baseline `{inputs.baseline}` on every eval set: a metric is better "
             "or worse when its paired-bootstrap CI excludes 0 (n.s. otherwise); the judge's win-rate counts a win "
             "only when both answer orders agree.")
    rows = []
    for name, entry in summary["sets"].items():
        for model in inputs.candidates:
            deltas = entry["deltas"].get(model, {})
            by = {v: [m for m, d in deltas.items() if d["verdict"] == v] for v in ("better", "worse")}
            rest = [m for m, d in deltas.items() if d["verdict"] not in ("better", "worse")]
            wr = entry["win_rate"].get(model)
            rows.append([model, f"{name} ({entry['role']})", ", ".join(by["better"]) or "–",
                         ", ".join(by["worse"]) or "–", ", ".join(rest) or "–",
                         f"{_num(wr['win_rate'], 3)} {judge_ci(wr)}" if wr else "–",
                         judge_consistency(wr) if wr else "–"])
    doc.table((["model", "eval set", "better", "worse", "not significant", "judge win-rate [CI]",
                "position consistency"], rows))


def _forgetting(doc: _Doc, inputs: _Inputs, summary: dict[str, Any]) -> None:
    general = [name for name, role in inputs.sets if role == "general"]
    if inputs.baseline is None or not general:
        return
    doc.heading("Forgetting", 2)
    replay = summary["replay"]
    doc.para(f"Change on the general sets ({', '.join(general)}) against `{inputs.baseline}`: what training must not "
             "lose. A significant drop is flagged **forgetting**."
             + (" Stages trained with replay are marked with the share of replayed records." if replay else ""))
    rows = []
    for name in general:
        for model in inputs.candidates:
            for metric, d in summary["sets"][name]["deltas"].get(model, {}).items():
                flag = "FORGETTING" if d["verdict"] == "worse" else ("improved" if d["verdict"] == "better" else "–")
                rows.append([model, f"{replay[model]:.0%}" if model in replay else "no", name, metric,
                             _signed(d["delta"]), _ci(d["low"], d["high"]), d["verdict"] or "–", flag])
    doc.table((["model", "replay", "set", "metric", "Δ", "CI", "verdict", "flag"], rows))
    flagged = summary["forgetting"]
    doc.para("No significant forgetting." if not flagged else "Forgetting: " + "; ".join(
        f"{f['model']} on {f['set']} {f['metric']} {_signed(f['delta'])}" for f in flagged))


def _signed(x: Any) -> str:
    from evalkit.report.tables import signed

    return signed(x) if isinstance(x, (int, float)) else "–"


def _ci(lo: Any, hi: Any) -> str:
    from evalkit.report.tables import ci

    return ci(lo, hi)


def _data_funnel(doc: _Doc, inputs: _Inputs) -> None:
    from ..rejects import read_rejected

    doc.heading("Data", 2)
    for outcome in inputs.outcomes("data"):
        stats = outcome.stats
        splits = ", ".join(f"{k.removesuffix('_rows')} {v}" for k, v in stats.items() if k.endswith("_rows"))
        doc.heading(f"{outcome.name}: {splits}", 3)
        rows = [[op["op"], str(op["rows_in"]), str(op["rows_kept"]), str(op["rows_rejected"]),
                 ", ".join(f"{r} {n}" for r, n in op.get("reasons", {}).items()) or "–"] for op in stats.get("ops", [])]
        doc.table((["stage", "rows in", "kept", "rejected", "reasons"], rows))
        folder = outcome.artifacts.get("rejected")
        if folder and Path(folder).is_dir() and stats.get("rejected"):
            doc.heading("Rejected rows: one example per stage and reason", 4)
            doc.table(_rejected_examples(read_rejected(folder)))


def _rejected_examples(rejected: Any) -> Table:
    """One row per (stage, reason): the count and the first example with its detail."""
    rows = []
    for (stage, reason), group in rejected.group_by(["stage", "reason"], maintain_order=True):
        first = group.row(0, named=True)
        where = f"line {first['source_row']}" if first.get("source_row") is not None else (first.get("id") or "")
        rows.append([str(stage), str(reason), str(group.height), str(where), _short(first.get("detail")),
                     _short(_record_text(first))])
    return ["stage", "reason", "rows", "line or id", "detail", "example"], rows


def _record_text(row: dict[str, Any]) -> str:
    """The conversation without its system turn (the same on many records), else the raw line."""
    messages = [m for m in row.get("messages") or [] if m and m.get("role") != "system"]
    text = " / ".join(f"{m.get('role')}: {m.get('content') or ''}" for m in messages)
    return text or str(row.get("raw") or "")


def _short(text: Any, limit: int = _EXAMPLE_CHARS) -> str:
    s = "" if text is None else " ".join(str(text).split())
    return s if len(s) <= limit else s[:limit - 1] + "…"


def _synthesis(doc: _Doc, inputs: _Inputs) -> None:
    from evalkit.report.plots import counts_png

    found = inputs.outcomes("synth")
    if not found:
        return
    stats = found[0].stats
    doc.heading("Synthesis", 2)
    rows = []
    for step in stats.get("steps", []):
        rate = step["rows_kept"] / step["rows_in"] if step["rows_in"] else None
        rows.append([step["step"], str(step["rows_in"]), str(step["rows_kept"]), str(step["rows_rejected"]),
                     _num(rate, 3), ", ".join(f"{r} {n}" for r, n in step.get("reasons", {}).items()) or "–"])
    doc.table((["step", "rows in", "kept", "rejected", "acceptance", "reasons"], rows))
    extra = {k: v for k, v in stats.items() if k.endswith("_rows")}
    cache = stats.get("cache") or {}
    doc.para(", ".join(f"{k.removesuffix('_rows')}: {v} records" for k, v in extra.items())
             + f"; generation cache: {cache.get('hits', 0)} hits, {cache.get('misses', 0)} generated.", note=True)
    for i, step in enumerate(stats.get("steps", [])):
        counts = step.get("score_counts")
        if counts:
            scale = "judge score" if step["step"] == "judge_filter" else "combined score (0-1), all scored samples"
            doc.image(f"synth_{i}_{step['step']}_scores", counts_png(f"{step['step']}: score histogram", counts, scale),
                      f"{step['step']}: score histogram", 3)


def _training(doc: _Doc, inputs: _Inputs) -> None:
    found = inputs.outcomes("train")
    if not found:
        return
    doc.heading("Training", 2)
    rows = []
    by_label = {f"train.{s.label}": (s, inputs.recipe.stage_from(i)) for i, s in enumerate(inputs.recipe.train)}
    for outcome in found:
        spec, start = by_label[outcome.name]
        st = outcome.stats
        final = ", ".join(f"{k}={_num(v)}" for k, v in st.get("final_metrics", {}).items()) or "–"
        replay = st.get("replay")
        data = ", ".join(inputs.recipe.train_data(spec)) + (
            f" + replay {spec.replay.data} ({replay['inputs']['replay']['rows_taken']} of {replay['size']} rows)"
            if replay else "")
        rows.append([outcome.name, spec.stage, start, data, str(st.get("steps", "–")), str(st.get("tokens_seen", "–")),
                     _num(st.get("wall_time_s"), 3), final, ", ".join(st.get("health", [])) or "none"])
    doc.table((["stage", "kind", "from", "data", "steps", "tokens", "seconds", "final", "health flags"], rows))
    for outcome in found:
        curves = outcome.artifacts.get("curves")
        if curves and Path(curves).is_file():
            doc.image(f"{_slug(outcome.name)}_curves", Path(curves).read_bytes(), f"{outcome.name}: training curves", 3)


def _eval_sets(doc: _Doc, inputs: _Inputs, comparisons: dict[str, Comparison]) -> None:
    from evalkit.report.html import comparison_html
    from evalkit.report.markdown import comparison_markdown
    from evalkit.report.plots import all_plots

    for name, role in inputs.sets:
        doc.heading(f"Eval set: {name} ({role})", 2)
        comparison = comparisons.get(name)
        if comparison is None:
            run = inputs.run(inputs.candidates[0], name)
            doc.table((["metric", "score", "signature"],
                       [[m, _num(v.get("score")), str(v.get("signature", ""))] for m, v in run.metrics.items()]))
            continue
        plots = all_plots(comparison)
        stems = {stem: f"set_{_slug(name)}_{stem}" for stem in plots}
        doc.plots.update({stems[s]: png for s, png in plots.items()})
        doc.extend(comparison_markdown(comparison, {s: f"plots/{stems[s]}.png" for s in plots}, level=3),
                   comparison_html(comparison, plots, level=3))


def _stages(doc: _Doc, inputs: _Inputs) -> None:
    doc.heading("Stages", 2)
    doc.para("Each stage is fingerprinted (its config, its inputs' content, the upstream fingerprints, the toolkit "
             "version) and skipped when its folder holds the same fingerprint; the full record is manifest.json.",
             note=True)
    rows = []
    for outcome in inputs.stages:
        marker = Path(inputs.ctx.run_dir) / outcome.name / "_stage.json"
        seconds = json.loads(marker.read_text(encoding="utf-8")).get("seconds") if marker.is_file() else None
        rows.append([outcome.name, outcome.fingerprint, _num(seconds, 3)])
    doc.table((["stage", "fingerprint", "seconds (when it ran)"], rows))
