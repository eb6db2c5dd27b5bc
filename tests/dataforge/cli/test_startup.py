"""The CLI imports only the module of the command it runs (start-up time), yet knows them all."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import typer

from dataforge.cli import main

ROOT = Path(__file__).resolve().parents[3]


def test_command_table_names_every_command_and_its_module():
    found = {}
    for module in main.command_modules():
        importlib.import_module(f"dataforge.cli.{module}")
    group = typer.main.get_command(main.app)
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        if command.callback is None:  # a command group (synth): the module of its commands
            command = next(iter(command.commands.values()))  # type: ignore[attr-defined]
        found[name] = command.callback.__module__.rsplit(".", 1)[1]
    assert found == main.COMMANDS


def test_running_convert_imports_neither_other_commands_nor_presidio(tmp_path):
    """Nor Arrow's compute module (0.06 s to import, ~40 MB once a kernel runs), pandas,
    numpy.ma, pydantic (typer >= 0.29 would) or rich (nothing to show but one line; the
    progress display is held back by its delay): rows without ids, a system prompt
    (message lists joined) and two extra keys (their order recorded per row) take every
    convert path that could reach for them."""
    src = tmp_path / "a.jsonl"
    src.write_text(
        '{"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]}\n'
        '{"system": "你是助手", "conversations": [{"from": "human", "value": "问"}, {"from": "gpt", "value": "答"}],'
        ' "lang": "zh", "category": "chat"}\n',
        encoding="utf-8",
    )
    code = (
        "import sys; from dataforge.cli import main; sys.argv = ['dataforge', 'convert', sys.argv[1], sys.argv[2]]\n"
        "try:\n    main.main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith(('dataforge.cli.', 'presidio', 'torch', 'jsonschema',\n"
        "    'pyarrow.compute', 'pandas', 'numpy.ma.', 'pydantic', 'rich'))))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(src), str(tmp_path / "o.parquet")], cwd=ROOT,
                         capture_output=True, text=True, check=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "POSTTRAIN_PROGRESS_DELAY": "60"})
    loaded = eval(out.stdout.strip().splitlines()[-1])
    assert loaded == ["dataforge.cli.app", "dataforge.cli.formats", "dataforge.cli.main"]
    assert (tmp_path / "o.parquet").exists()
