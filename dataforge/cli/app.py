"""The typer application every command module attaches to."""

import typer

app = typer.Typer(
    name="dataforge",
    help="Convert, inspect, clean and grow LLM post-training data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
