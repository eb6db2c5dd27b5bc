"""Entry point: import the module of the command being run (all of them for help), then run.

Each command module imports what its commands need (polars, pyarrow, presidio...), so
importing every module to run one command costs seconds of start-up. :data:`COMMANDS`
says which module defines each command; an unknown word, ``--help`` or no command
imports them all, so help lists everything and typos get the usual error.
``tests/dataforge/cli/test_startup.py`` checks the table against the modules.
"""

from __future__ import annotations

import gc
import importlib
import os
import pkgutil
import sys

# Set before torch can be imported by any command: torch threads otherwise spin-wait
# when another process holds a core (up to 8x slower on small machines).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from . import __path__ as _cli_path  # noqa: E402
from .app import app  # noqa: E402

#: command -> module of dataforge.cli that defines it
COMMANDS = {
    "convert": "formats", "inspect": "formats", "schema": "formats",
    "ops": "ops", "apply": "ops", "split": "ops", "mix": "ops",
    "engines": "registries", "verifiers": "registries", "reference": "registries",
    "run": "run", "runs": "run",
    "synth": "synth",
    "train": "train", "template": "template",
}


def command_modules() -> list[str]:
    """Every command module of this package."""
    return [i.name for i in pkgutil.iter_modules(_cli_path) if i.name not in {"app", "main"} and not i.name.startswith("_")]


def _load_commands(argv: list[str] | None = None) -> None:
    """Import the module of the command in ``argv``; every command module when ``argv`` is
    None (tests, help) or names no known command."""
    argv = argv or []
    words = [a for a in argv if not a.startswith("-")]
    wanted = COMMANDS.get(words[0]) if words and "--help" not in argv[: argv.index(words[0])] else None
    for name in [wanted] if wanted else command_modules():
        importlib.import_module(f"dataforge.cli.{name}")


def main() -> None:
    # Importing polars, pyarrow and numpy creates ~10^5 long-lived objects and no garbage,
    # yet triggers a dozen collections, full ones included (~90 ms of a 0.6 s start-up on
    # a 2-core machine). Collect nothing while importing, then freeze what was imported
    # (later collections skip it) and collect as usual for the command's own work.
    gc.disable()
    try:
        _load_commands(sys.argv[1:])
    finally:
        gc.freeze()
        gc.enable()
    app()


if __name__ == "__main__":
    main()
