"""``dataforge train STAGE | merge | backends | config | accelerate-config``.

``dataforge train sft --data train.parquet --model smollm2 -o runs/sft [--config sft.yaml]
[--set key=value ...] [--backend trl]`` trains one stage outside a recipe: the stage
config is validated (file, then ``--set`` items), bad data is refused with the file,
row and problem before any model loads, a progress bar shows steps, loss/reward and
ETA, and the summary prints at the end. The same command runs in every process of
``accelerate launch -m dataforge.cli.main train ...`` (only the main one prints).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .. import progress
from ..models import DEFAULT_CAUSAL_LM
from .app import app, sub_app
from .registries import print_registry

train_app = sub_app("Train a model on canonical data (sft, dpo, kto, orpo, rm, grpo, rloo, ppo), merge adapters.")
app.add_typer(train_app, name="train")

def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def print_summary(artifacts: Any, console: Console) -> None:
    """The end-of-run table (steps, tokens, time, memory, final metrics), then the files
    and health flags."""
    s = artifacts.summary
    table = Table(title=f"{s.get('stage')} -> {artifacts.output_dir}", show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value", overflow="fold")
    for key in ("steps", "tokens_seen", "wall_time_s", "tokens_per_s", "peak_memory_mb", "pairwise_accuracy"):
        if s.get(key) is not None:
            table.add_row(key, _fmt(s[key]))
    final = s.get("final_metrics", {})
    shown = {k: v for k, v in final.items() if any(n in k for n in ("loss", "reward", "kl", "accurac", "margin"))}
    for key, value in shown.items():
        table.add_row(key, _fmt(value))
    for key, value in (s.get("eval_metrics") or {}).items():
        if isinstance(value, (int, float)) and "runtime" not in key and "per_second" not in key:
            table.add_row(key, _fmt(value))
    for note in (s.get("data") or {}).get("notes", []):
        table.add_row("data", escape(note))
    console.print(table)
    # files below the table, one per line and never folded: long paths stay copyable
    for key, path in (("model", artifacts.model_dir), ("curves", artifacts.curve_plot),
                      ("summary", artifacts.summary_file)):
        if path is not None:
            console.print(f"{key}: {escape(str(path))}", soft_wrap=True, highlight=False)
    for flag in artifacts.health:
        console.print(f"[bold yellow]health: {flag['flag']}[/] {escape(flag['message'])}", soft_wrap=True)
    if not artifacts.health:
        console.print("[green]health: no flags[/]")


def _quiet_library_bars() -> None:
    """Our progress bar replaces the libraries' per-step and per-map bars."""
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def _register_stage(stage: str) -> None:
    from backends.config import config_class, summary

    def command(
        data: list[Path] = typer.Option(..., "--data", help="training records (canonical Parquet or any format dataforge reads); repeat"),
        model: str = typer.Option(DEFAULT_CAUSAL_LM, "--model", help="alias, folder, hub id or an earlier stage's output"),
        output: Path = typer.Option(..., "-o", "--output", help="output folder (new, empty, or an earlier run of this command)"),
        config: Optional[Path] = typer.Option(None, "--config", exists=True, dir_okay=False, help="stage config YAML"),
        sets: list[str] = typer.Option([], "--set", help="KEY=VALUE config override (dotted keys: adapter.rank=8); repeat"),
        backend: str = typer.Option("trl", "--backend", help="trainer back end (dataforge train backends)"),
        eval_data: list[Path] = typer.Option([], "--eval-data", help="evaluation records (default: eval_fraction held out)"),
    ) -> None:
        import backends

        _quiet_library_bars()
        stage_cfg = backends.stage_config(stage, file=config, sets=sets)
        bar = progress.StepsBar()
        try:
            artifacts = backends.train(stage_cfg, data, model, output, backend=backend, eval_data=eval_data or None,
                                       progress=bar)
        finally:
            bar.finish()
        if artifacts.summary:  # empty on the non-main processes of a distributed run
            print_summary(artifacts, Console())

    train_app.command(stage, help=f"{summary(config_class(stage))} Config: dataforge train config {stage}.")(command)


for _stage in ("sft", "dpo", "kto", "orpo", "rm", "grpo", "rloo", "ppo"):
    _register_stage(_stage)


@train_app.command("merge")
def merge_cmd(
    adapter: Path = typer.Argument(..., exists=True, help="a stage output folder (or its adapter/ folder)"),
    output: Path = typer.Option(..., "-o", "--output", help="folder for the standalone model"),
) -> None:
    """Fold a LoRA adapter (and any adapters under it) into its base; save a standalone model."""
    import backends

    _quiet_library_bars()
    folder = backends.merge(adapter, output)
    Console().print(f"merged {adapter} -> {folder} (loads with AutoModelForCausalLM.from_pretrained)")


@train_app.command("backends")
def list_backends() -> None:
    """List the trainer back ends (built-in and plug-ins) and the stages each runs."""
    from backends import BACKENDS

    print_registry(BACKENDS, "trainer back ends", lambda cls: "stages: " + ", ".join(cls.stages))


@train_app.command("config")
def show_config(stage: str = typer.Argument(..., help="sft, dpo, kto, orpo, rm, grpo, rloo or ppo")) -> None:
    """Print a stage's config with every default, as YAML to edit and pass with --config."""
    from backends.config import config_yaml

    typer.echo(config_yaml(stage), nl=False)


@train_app.command("accelerate-config")
def show_accelerate_config(name: str = typer.Argument(..., help="zero2, zero3 or fsdp")) -> None:
    """Print the path of a shipped accelerate config (DeepSpeed ZeRO-2/3, FSDP)."""
    from backends import accelerate_config

    typer.echo(str(accelerate_config(name)))
