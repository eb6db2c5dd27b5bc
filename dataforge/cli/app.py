"""The typer applications of ``dataforge`` and ``evalkit``, and how every command fails.

Every command runs inside :class:`_Group`: a :class:`~dataforge.errors.UserError` (a
refusal the user can act on) and an ``OSError`` that names a file (missing, unreadable,
read-only folder, full disk) become one red line and exit code 2; anything else is a bug
and keeps its traceback. ``--debug`` (before the command) or ``POSTTRAIN_DEBUG=1`` shows
the traceback of refusals too.
"""

from __future__ import annotations

import os
from typing import Any

import typer
from typer.core import TyperGroup

from ..errors import DEBUG_ENV, UserError, debug_enabled


def user_message(exc: BaseException) -> str | None:
    """The one-line message for a refusal, or None when ``exc`` is a bug."""
    if isinstance(exc, UserError):
        return str(exc)
    if isinstance(exc, OSError) and exc.errno is not None:
        where = exc.filename if exc.filename is not None else ""
        reason = exc.strerror or str(exc)
        return f"{where}: {reason}" if where else reason
    return None


def fail(message: str) -> None:
    """Print ``error: message`` on stderr and exit with code 2."""
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(2)


class LazyConsole:
    """A rich ``Console`` made on first use. Importing rich costs ~60 ms of start-up (its
    Unicode width tables), which a quick command that has nothing but one line to say
    (``convert`` with no rejected rows) never needs."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return getattr(self._console, name)


def escape(text: str) -> str:
    """rich's markup escape, importing rich only when something is printed through it."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


class _Group(TyperGroup):
    """A command group that shows refusals as one line, and bugs with their traceback."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:  # noqa: BLE001 - sorted into refusal or bug right here
            # click's own exits and usage errors are neither a UserError nor an OSError,
            # so they go on to click unchanged
            message = user_message(exc)
            if message is None or debug_enabled():
                raise
            fail(message)


def _debug_option(debug: bool = typer.Option(False, "--debug", help="show Python tracebacks of refusals")) -> None:
    if debug:
        os.environ[DEBUG_ENV] = "1"


def make_app(name: str, help: str) -> typer.Typer:
    """A typer application with the shared error handling and a global ``--debug``."""
    new = typer.Typer(
        name=name, help=help, cls=_Group, no_args_is_help=True, add_completion=False,
        pretty_exceptions_show_locals=False,
    )
    new.callback()(_debug_option)
    return new


def sub_app(help: str) -> typer.Typer:
    """A command group inside an application (``dataforge synth``, ``evalkit human``)."""
    return typer.Typer(help=help, cls=_Group, no_args_is_help=True)


app = make_app("dataforge", "Convert, inspect, clean, grow and train on LLM post-training data.")
