"""Entry point: import every command module so its commands register, then run."""

from __future__ import annotations

import importlib
import os
import pkgutil

# Set before torch can be imported by any command: torch threads otherwise spin-wait
# when another process holds a core (up to 8x slower on small machines).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from . import __path__ as _cli_path  # noqa: E402
from .app import app  # noqa: E402


def _load_commands() -> None:
    for info in pkgutil.iter_modules(_cli_path):
        if info.name not in {"app", "main"} and not info.name.startswith("_"):
            importlib.import_module(f"dataforge.cli.{info.name}")


def main() -> None:
    _load_commands()
    app()


if __name__ == "__main__":
    main()
