"""``dataforge run RECIPE``: execute a recipe into runs/<name>/, resuming finished stages."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from ..recipe import RecipeRunner, load_recipe
from .app import app


@app.command("run")
def run_recipe(
    recipe: Path = typer.Argument(..., exists=True, dir_okay=False, help="recipe YAML file"),
    runs_dir: Path = typer.Option(Path("runs"), "--runs-dir", help="parent folder of run folders"),
    force: bool = typer.Option(False, "--force", help="rerun stages even when up to date"),
    overwrite: bool = typer.Option(False, "--overwrite", help="use an existing run folder posttrain did not create"),
) -> None:
    """Run a recipe: data (read, ops, split) then eval; finished stages are skipped."""
    console = Console(stderr=True)
    spec, folder = load_recipe(recipe)
    runner = RecipeRunner(spec, folder, runs_dir, log=lambda m: console.print(m, markup=False, highlight=False))
    outcomes = runner.run(force=force, overwrite=overwrite)
    table = Table(title=f"run {spec.name} -> {runner.run_dir}")
    for col in ("stage", "status", "seconds", "key results"):
        table.add_column(col)
    for o in outcomes:
        keys = {k: v for k, v in o.stats.items() if not isinstance(v, (list, dict))}
        if "metrics" in o.stats:
            keys.update({k: round(v, 4) for k, v in o.stats["metrics"].items()})
        table.add_row(o.name, "skipped" if o.skipped else "done", f"{o.seconds:.1f}",
                      ", ".join(f"{k}={v}" for k, v in keys.items()))
    Console().print(table)
