"""The ``evalkit`` command line: run, compare, harness, human, arena, metrics.

Heavy libraries (torch, transformers, lm-eval, matplotlib) are imported inside the commands
that need them, so ``evalkit --help`` is instant and a typo costs nothing.
"""

from __future__ import annotations

import os

# Before anything can import torch: its threads otherwise spin-wait when another process
# holds a core (up to 8x slower on small shared machines).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import json  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Optional  # noqa: E402

import typer  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from dataforge.cli.app import fail as _fail  # noqa: E402
from dataforge.cli.app import make_app, sub_app  # noqa: E402
from dataforge.outputs import prepare_outputs  # noqa: E402

app = make_app("evalkit", "Evaluate models, compare runs, write reports.")
human_app = sub_app("Blind pairwise human evaluation sheets.")
app.add_typer(human_app, name="human")
console = Console()


def _metric_params(items: list[str]) -> dict[str, dict[str, Any]]:
    """``["bleu.tokenize=zh", "distinct.n=3"]`` -> {"bleu": {"tokenize": "zh"}, "distinct": {"n": 3}}."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        name_key, sep, raw = item.partition("=")
        metric, dot, key = name_key.partition(".")
        if not (sep and dot and metric and key):
            raise typer.BadParameter(f"{item!r}: expected METRIC.KEY=VALUE")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out.setdefault(metric, {})[key] = value
    return out


@app.command()
def run(
    output: Path = typer.Option(..., "-o", "--output", help="Run folder to write."),
    data: Optional[Path] = typer.Option(None, "--data", help="Eval set (canonical records: JSONL, Parquet...)."),
    model: Optional[str] = typer.Option(None, "--model", help="Alias, local folder or hub id (default: embedded SmolLM2)."),
    metrics: str = typer.Option("all", "--metrics", help="Comma-separated metric names, or 'all'."),
    metric_param: list[str] = typer.Option([], "--metric-param", help="METRIC.KEY=VALUE (JSON value), repeatable."),
    predictions: Optional[Path] = typer.Option(None, "--predictions", help="Score this predictions file instead of generating."),
    engine: str = typer.Option("transformers", "--engine"),
    max_new_tokens: int = typer.Option(256, "--max-new-tokens"),
    temperature: float = typer.Option(0.0, "--temperature", help="0 = greedy."),
    top_p: float = typer.Option(1.0, "--top-p"),
    seed: int = typer.Option(0, "--seed"),
    batch_size: int = typer.Option(8, "--batch-size"),
    cache: bool = typer.Option(True, "--cache/--no-cache", help="Use the generation cache."),
    cache_path: Optional[Path] = typer.Option(None, "--cache-path"),
    overwrite: bool = typer.Option(False, "--overwrite", help="write into a folder posttrain did not create"),
    strict: bool = typer.Option(False, "--strict", help="refuse --predictions ids that are not in --data"),
) -> None:
    """Generate answers for an eval set, score them, write a run folder."""
    import warnings

    from rich.markup import escape

    from dataforge.synth.engines import GenerationParams

    from .run import GenerationConfig, PredictionsWarning, evaluate

    if data is None and predictions is None:
        _fail("give --data (an eval set) or --predictions (answers to score)")
    prepare_outputs([data, predictions], folders=[output], overwrite=overwrite)
    generation = GenerationConfig(
        engine=engine,
        params=GenerationParams(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, seed=seed),
        engine_options={"batch_size": batch_size},
        cache=cache, cache_path=str(cache_path) if cache_path else None,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PredictionsWarning)
        result = evaluate(model, data, metrics, generation=generation, metric_params=_metric_params(metric_param),
                          output=output, predictions=predictions, overwrite=overwrite, strict=strict)
    for w in caught:
        if issubclass(w.category, PredictionsWarning):
            Console(stderr=True, soft_wrap=True).print(f"[yellow]warning:[/yellow] {escape(str(w.message))}", highlight=False)
    table = Table(title=f"run {result.name}: {result.predictions.height} examples")
    for col in ("metric", "score", "signature"):
        table.add_column(col)
    for name, entry in result.metrics.items():
        score = "–" if entry.get("score") is None else f"{entry['score']:.4f}"
        table.add_row(name, score, entry.get("error") or entry.get("note") or entry.get("signature", ""))
    console.print(table)
    counts = result.manifest.get("data", {})
    if counts.get("refused"):
        reasons = ", ".join(f"{k}: {v}" for k, v in counts.get("refused_reasons", {}).items())
        console.print(f"[yellow]{counts['rows_in']} rows in = {counts['scored']} scored + {counts['refused']} "
                      f"refused ({reasons}); see {output / 'rejected.parquet'}[/]")
    console.print(f"wrote {output}")


@app.command()
def compare(
    runs: list[Path] = typer.Argument(..., help="Run folders; the first is the baseline."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Report folder (report.md, report.html)."),
    judge: Optional[str] = typer.Option(None, "--judge", help="ENGINE/MODEL of a pairwise judge, e.g. transformers/smollm2."),
    judge_max_new_tokens: int = typer.Option(256, "--judge-max-new-tokens"),
    judge_retries: int = typer.Option(1, "--judge-retries"),
    cache_path: Optional[Path] = typer.Option(None, "--cache-path", help="Generation cache of the judge."),
    n_boot: int = typer.Option(1000, "--n-boot", help="Bootstrap resamples."),
    confidence: float = typer.Option(0.95, "--confidence"),
    seed: int = typer.Option(0, "--seed"),
    top_k: int = typer.Option(5, "--top-k", help="Worst examples listed per metric."),
    overwrite: bool = typer.Option(False, "--overwrite", help="write into a folder posttrain did not create"),
) -> None:
    """Side-by-side metrics with deltas, paired-bootstrap CIs and the examples that got worse."""
    from . import compare as cmp
    from .store import load_run

    prepare_outputs(runs, folders=[output], overwrite=overwrite)
    loaded = [load_run(r) for r in runs]
    comparison = cmp.compare(loaded, n_boot=n_boot, confidence=confidence, seed=seed, top_k=top_k)
    if judge:
        cmp.judge_pairs(comparison, _make_judge(judge, judge_max_new_tokens, judge_retries, cache_path))
    _print_comparison(comparison)
    if output is not None:
        from .report import write_report

        files = write_report(comparison, output, overwrite=overwrite)
        console.print(f"wrote {files['report.md']} and {files['report.html']}")


def _make_judge(spec: str, max_new_tokens: int, retries: int, cache_path: Path | None) -> Any:
    """``transformers/smollm2`` -> a cached pairwise judge (``transformers`` alone: default
    model) whose generation shows a progress bar (judge prompts really generated)."""
    from dataforge.synth.cache import CachedEngine, GenerationCache
    from dataforge.synth.engines import GenerationParams, engine_kinds, make_engine
    from dataforge.synth.judge import PairwiseJudge

    from dataforge.progress import ProgressEngine

    kind, _, model = spec.partition("/")
    if kind not in engine_kinds():
        kind, model = "transformers", spec
    engine = CachedEngine(ProgressEngine(make_engine(kind, model or None), "judge", chunk=16),
                          GenerationCache(cache_path))
    return PairwiseJudge(engine, params=GenerationParams(max_new_tokens=max_new_tokens), retries=retries)


def _print_comparison(comparison: Any) -> None:
    from .report.tables import ci, num, signed, verdict

    names = comparison.names
    table = Table(title=f"compare vs {names[0]} ({comparison.confidence:.0%} paired bootstrap, {comparison.n_boot} resamples)")
    table.add_column("metric")
    for i, name in enumerate(names):
        table.add_column(name, justify="right")
        if i:
            table.add_column(f"Δ {name} [CI]", justify="right")
    styles = {"better": "green", "worse": "red"}
    for metric, group in comparison.table.group_by("metric", maintain_order=True):
        rows = {r["run"]: r for r in group.iter_rows(named=True)}
        arrow = "↑" if group["higher_is_better"][0] else "↓"
        cells = [f"{metric[0]} {arrow}"]
        for i, name in enumerate(names):
            row = rows.get(name)
            cells.append(num(row["score"]) if row else "–")
            if i and row and row["delta"] is not None:
                word = verdict(row)
                style = styles.get(word, "dim")
                cells.append(f"[{style}]{signed(row['delta'])} {ci(row['delta_low'], row['delta_high'])} {word}[/]")
            elif i:
                cells.append("–")
        table.add_row(*cells)
    console.print(table)
    for note in comparison.notes:
        console.print(f"[yellow]warning:[/] {note}")
    if comparison.outcomes.height:
        worst = comparison.regressions.group_by("metric", "run", maintain_order=True).first()
        out = Table(title="per-example wins / ties / losses (worst example)")
        for col in ("metric", "run", "wins", "ties", "losses", "worst id (change)"):
            out.add_column(col)
        for r in comparison.outcomes.iter_rows(named=True):
            w = worst.filter((worst["metric"] == r["metric"]) & (worst["run"] == r["run"]))
            shown = f"{w['id'][0]} ({signed(w['change'][0])})" if w.height else ""
            out.add_row(r["metric"], r["run"], str(r["wins"]), str(r["ties"]), str(r["losses"]), shown)
        console.print(out)
    if comparison.judge is not None:
        from .report.tables import judge_ci

        for r in comparison.judge.iter_rows(named=True):
            console.print(f"judge: {r['run']} vs {names[0]}: win-rate {num(r['win_rate'])} "
                          f"{judge_ci(r)} (W/T/L {r['wins']}/{r['ties']}/{r['losses']}, "
                          f"unparseable {r['unparseable']})")


@app.command()
def harness(
    tasks: str = typer.Option(..., "--tasks", help="Comma-separated lm-eval task or tag names."),
    output: Path = typer.Option(..., "-o", "--output", help="Run folder to write."),
    model: Optional[str] = typer.Option(None, "--model"),
    include_path: list[Path] = typer.Option([], "--include-path", help="Folder of custom task YAMLs (repeatable)."),
    limit: Optional[float] = typer.Option(None, "--limit", help="Examples per task (or a fraction < 1)."),
    num_fewshot: Optional[int] = typer.Option(None, "--num-fewshot"),
    batch_size: int = typer.Option(1, "--batch-size"),
    apply_chat_template: bool = typer.Option(
        False, "--apply-chat-template", help="Render prompts with the model's chat template (chat models)."),
    chat_template: Optional[str] = typer.Option(
        None, "--chat-template", help="Name of one of the tokenizer's chat templates (implies --apply-chat-template)."),
    fewshot_as_multiturn: Optional[bool] = typer.Option(
        None, "--fewshot-as-multiturn/--no-fewshot-as-multiturn",
        help="Each few-shot example as its own user/assistant turn (needs --apply-chat-template; "
             "on by default with it, as in lm-eval)."),
) -> None:
    """Run lm-evaluation-harness tasks and store the result as an evalkit run."""
    from .harness import run_harness

    limit_value = int(limit) if limit is not None and limit >= 1 else limit
    template: bool | str = chat_template or apply_chat_template
    result = run_harness(model, [t.strip() for t in tasks.split(",") if t.strip()], include_path=include_path,
                         limit=limit_value, num_fewshot=num_fewshot, batch_size=batch_size,
                         apply_chat_template=template, fewshot_as_multiturn=fewshot_as_multiturn,
                         output=output)
    table = Table(title=f"lm-eval run {result.name}")
    for col in ("metric", "score", "stderr"):
        table.add_column(col)
    for name, entry in result.metrics.items():
        stderr = entry.get("stderr")
        table.add_row(name, f"{entry['score']:.4f}", "–" if stderr is None else f"{stderr:.4f}")
    console.print(table)
    console.print(f"wrote {output}")


@human_app.command("export")
def human_export(
    run_a: Path = typer.Argument(..., help="Baseline run (A)."),
    run_b: Path = typer.Argument(..., help="Candidate run (B)."),
    output: Path = typer.Option(..., "-o", "--output", help="Folder for sheet.csv, sheet.html, key.json."),
    seed: int = typer.Option(0, "--seed", help="Seed of the per-item A/B order."),
    with_reference: bool = typer.Option(False, "--with-reference", help="Show the reference answer to annotators."),
    overwrite: bool = typer.Option(False, "--overwrite", help="write into a folder posttrain did not create"),
) -> None:
    """Write a blind pairwise annotation sheet for two runs."""
    from .human import export_sheet
    from .store import load_run

    prepare_outputs([run_a, run_b], folders=[output], overwrite=overwrite)
    files = export_sheet(load_run(run_a), load_run(run_b), output, seed=seed, with_reference=with_reference,
                         overwrite=overwrite)
    console.print(f"wrote {files['sheet.csv']} and {files['sheet.html']}; keep {files['key.json']} from annotators")


@human_app.command("import")
def human_import(
    sheet: Path = typer.Argument(..., help="The filled sheet.csv."),
    key: Path = typer.Option(..., "--key", help="key.json written by `human export`."),
    judge_results: Optional[Path] = typer.Option(
        None, "--judge-results", help="Report folder of `compare --judge` (or its judge_verdicts.jsonl)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write the summary + labels JSON here."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """De-blind a filled sheet: human win-rate and agreement with the judge."""
    from .human import import_sheet
    from .store import write_json

    result = import_sheet(sheet, key, judge_results=judge_results, seed=seed)
    _print_human_summary(result.summary)
    if output is not None:
        write_json(output, {**result.summary, "labels": result.labels.to_dicts()})
        console.print(f"wrote {output}")


def _print_human_summary(summary: dict[str, Any]) -> None:
    """The de-blinded human verdicts (and the judge agreement) in two lines."""
    from .report.tables import ci, num

    h, runs = summary["human"], summary["runs"]
    console.print(f"human: {runs['B']['name']} vs {runs['A']['name']}: win-rate {num(h['win_rate'])} "
                  f"{ci(h['ci_low'], h['ci_high'])} (W/T/L {h['wins']}/{h['ties']}/{h['losses']}; "
                  f"{summary['unlabelled']} unlabelled)")
    if "judge_agreement" in summary:
        a = summary["judge_agreement"]
        console.print(f"judge agreement on {a['items']} items: {num(a['agreement'])}, "
                      f"Cohen's kappa {num(a['cohen_kappa'])}")


@app.command()
def arena(
    run_a: Path = typer.Argument(..., help="Baseline run (A)."),
    run_b: Path = typer.Argument(..., help="Candidate run (B)."),
    output: Optional[Path] = typer.Option(
        None, "-o", "--output", help="Session folder (default ./arena-A-vs-B); the same folder resumes."),
    judge_results: Optional[Path] = typer.Option(
        None, "--judge-results", help="Report folder of `compare --judge` (or its judge_verdicts.jsonl): "
                                      "agreement with the judge."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of the per-item A/B order (new session; default 0)."),
    with_reference: bool = typer.Option(False, "--with-reference", help="Show the reference answer too (new session)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every interface)."),
    port: Optional[int] = typer.Option(None, "--port", help="Port (default: the first free one from 7860)."),
    browser: bool = typer.Option(True, "--browser/--no-browser", help="Open the page in this machine's browser."),
    overwrite: bool = typer.Option(False, "--overwrite", help="write into a folder posttrain did not create"),
) -> None:
    """Blind side-by-side rating of two runs in the browser; verdicts saved as a human sheet."""
    from .arena import ArenaSession
    from .arena_page import require_gradio, serve
    from .store import load_run

    require_gradio()
    a, b = load_run(run_a), load_run(run_b)
    folder = output if output is not None else Path(f"arena-{a.name}-vs-{b.name}")
    prepare_outputs([run_a, run_b, judge_results], folders=[folder], overwrite=overwrite)
    session = ArenaSession.open(a, b, folder, seed=seed, with_reference=with_reference,
                                judge_results=judge_results, overwrite=overwrite)
    counts = session.counts()
    if session.resumed:
        console.print(f"resuming {folder}: {counts['rated']} rated, {counts['skipped']} skipped, "
                      f"{counts['open']} to go (A/B order of seed {session.key['seed']})")
    serve(session, host=host, port=port, open_browser=browser)
    if session.counts()["rated"]:
        _print_human_summary(session.summary())
    console.print(f"verdicts in {folder / 'sheet.csv'}; the same command resumes")


@app.command("metrics")
def list_metrics() -> None:
    """List the registered metrics."""
    from .metrics import metric_registry

    for name, fn in metric_registry().items():
        doc = (fn.__doc__ or "").strip().splitlines()
        console.print(f"[bold]{name}[/]  {doc[0] if doc else ''}")


def main() -> None:
    """Console-script entry point (``evalkit = "evalkit.cli:main"``)."""
    app()


if __name__ == "__main__":
    main()
