"""``dataforge engines | verifiers``: list what the registries hold, like ``dataforge ops``.

Every pluggable kind lists the same way: name, one-line summary, parameters (from its
typed config) and where it comes from (built in, or the plug-in module that registered it).
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import typer

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..registry import Registry
from .app import app


def config_lines(model: Any) -> str:
    """``name: type = default`` per field of a config model."""
    lines = []
    for name, f in getattr(model, "model_fields", {}).items():
        type_name = getattr(f.annotation, "__name__", str(f.annotation)).replace("typing.", "")
        default = "required" if f.is_required() else repr(f.get_default(call_default_factory=True))
        lines.append(f"{name}: {type_name} = {default}")
    return "\n".join(lines)


def print_registry(registry: Registry[Any], title: str, config_of: Any, load: bool = True) -> None:
    """A table of a registry: name, summary, parameters, origin. ``config_of(obj)`` gives
    a config model (its fields are listed) or the text to show instead."""
    table = Table(title=title, show_lines=True)
    for col in ("name", "summary", "parameters", "from"):
        table.add_column(col, overflow="fold")
    items = registry.items() if load else {n: None for n in registry.names()}
    for name, obj in items.items():
        summary = (inspect.getdoc(obj) or "").splitlines()[0] if obj is not None else ""
        origin = registry.origin(name)
        where = "built-in" if origin.startswith(("dataforge.", "evalkit.", "backends.")) else origin
        spec = config_of(obj) if obj is not None else None
        params = spec if isinstance(spec, str) else (config_lines(spec) if spec is not None else "")
        table.add_row(name, escape(summary), escape(params), escape(where))
    Console().print(table)


@app.command("engines")
def list_engines() -> None:
    """List the generation engines and their options."""
    from ..synth.engines import ENGINES

    print_registry(ENGINES, "generation engines", lambda cls: cls.config_model())


@app.command("verifiers")
def list_verifiers() -> None:
    """List the rule verifiers (best-of-K scorers, GRPO rewards, evalkit checks)."""
    from ..verifiers import VERIFIERS

    print_registry(VERIFIERS, "verifiers", lambda cls: cls.Config)


@app.command("reference")
def write_reference_docs(
    output: Path = typer.Option(Path("docs/reference"), "--output", help="folder for the Markdown pages"),
) -> None:
    """Write the reference pages generated from the configs (recipe, metrics, engines, verifiers)."""
    from ..recipe.reference import write_reference

    for path in write_reference(output):
        Console().print(f"wrote {path}")
