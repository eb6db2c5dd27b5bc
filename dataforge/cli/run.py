"""``dataforge run RECIPE`` (data -> synth -> train -> eval -> report into runs/<name>/,
resuming finished stages) and ``dataforge runs [DIR]`` (what each run folder holds)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..recipe import RecipeRunner, load_recipe
from .app import app


@app.command("run")
def run_recipe(
    recipe: Path = typer.Argument(..., exists=True, dir_okay=False, help="recipe YAML file"),
    runs_dir: Path = typer.Option(Path("runs"), "--runs-dir", help="parent folder of run folders"),
    sets: list[str] = typer.Option([], "--set", help="KEY=VALUE override, dotted keys and list indices: "
                                                    "train.0.args.max_steps=5, eval.limit=4; repeat"),
    dry_run: bool = typer.Option(False, "--dry-run", help="validate, print the plan and what is up to date; run nothing"),
    force: bool = typer.Option(False, "--force", help="rerun stages even when up to date"),
    overwrite: bool = typer.Option(False, "--overwrite", help="use an existing run folder posttrain did not create"),
) -> None:
    """Run a recipe: data, synth, train, eval, report; stages already done are skipped."""
    console = Console(stderr=True)
    spec, folder = load_recipe(recipe, sets)
    runner = RecipeRunner(spec, folder, runs_dir, log=lambda m: console.print(m, markup=False, highlight=False))
    if dry_run:
        table = Table(title=f"plan of {spec.name} -> {runner.run_dir}")
        for col in ("stage", "would", "fingerprint", "what"):
            table.add_column(col, overflow="fold")
        for stage in runner.dry_run():
            table.add_row(stage.name, "skip (up to date)" if stage.up_to_date else "run", stage.fingerprint,
                          escape(stage.description))
        Console().print(table)
        return
    outcomes = runner.run(force=force, overwrite=overwrite)
    table = Table(title=f"run {spec.name} -> {runner.run_dir}")
    for col in ("stage", "status", "seconds", "key results"):
        table.add_column(col, overflow="fold")
    for o in outcomes:
        keys = {k: v for k, v in o.stats.items() if not isinstance(v, (list, dict))}
        if "metrics" in o.stats:
            keys.update({k: round(v, 4) for k, v in o.stats["metrics"].items() if isinstance(v, (int, float))})
        keys.update({k: round(v, 4) for k, v in o.stats.get("final_metrics", {}).items()})
        table.add_row(o.name, "skipped" if o.skipped else "done", f"{o.seconds:.1f}",
                      escape(", ".join(f"{k}={v}" for k, v in keys.items())))
    Console().print(table)
    report = runner.run_dir / "report" / "report.html"
    if report.is_file():
        Console().print(f"report: {report}")


@app.command("runs")
def list_runs(folder: Path = typer.Argument(Path("runs"), help="folder holding run folders")) -> None:
    """List the runs in FOLDER: status, stages done, and headline results vs the baseline."""
    from ..recipe.status import run_status

    if not folder.is_dir():
        raise typer.BadParameter(f"{folder} is not a folder")
    found = [run_status(p) for p in sorted(folder.iterdir()) if (p / "manifest.json").is_file()]
    if not found:
        Console().print(f"no runs in {folder}")
        return
    table = Table(title=f"runs in {folder}")
    for col in ("run", "status", "stages", "finished", "headline"):
        table.add_column(col, overflow="fold")
    for status in found:
        table.add_row(status.name, status.status, f"{status.done}/{status.planned}", status.finished_at or "–",
                      escape(_headline(status.summary)))
    Console().print(table)


def _headline(summary: dict[str, Any] | None) -> str:
    """Per candidate: domain-set deltas that are significant, the win-rate, forgetting."""
    if not summary:
        return "–"
    parts = []
    for model in summary.get("candidates", []):
        bits = []
        for name, entry in summary.get("sets", {}).items():
            deltas = entry.get("deltas", {}).get(model, {})
            shown = [f"{m} {d['delta']:+.3g} ({d['verdict']})" for m, d in deltas.items()
                     if d.get("delta") is not None and d.get("verdict") in ("better", "worse")]
            if shown:
                bits.append(f"{name}: {', '.join(shown)}")
            wr = entry.get("win_rate", {}).get(model)
            if wr and wr.get("win_rate") is not None:
                bits.append(f"{name} win-rate {wr['win_rate']:.2f}")
        if not bits and summary.get("baseline"):
            bits.append("no significant change")
        if not summary.get("baseline"):
            scores = {n: e["scores"].get(model, {}) for n, e in summary.get("sets", {}).items()}
            bits = [f"{n}: " + ", ".join(f"{m}={v:.3g}" for m, v in s.items() if isinstance(v, (int, float)))
                    for n, s in scores.items()]
        forgot = [f for f in summary.get("forgetting", []) if f["model"] == model]
        bits.append(f"forgetting: {', '.join(f['set'] + '/' + f['metric'] for f in forgot)}" if forgot
                    else "no forgetting" if summary.get("baseline") else "")
        parts.append(f"{model}" + (f" vs {summary['baseline']}" if summary.get("baseline") else "") + ": "
                     + "; ".join(b for b in bits if b) if bits else model)
    return "\n".join(parts) or json.dumps(summary)[:80]
