"""No import runs upward: the layers of docs/architecture.md, checked on the source.

Imports are read with ``ast`` (nothing is imported), so the test also covers modules whose
dependencies are not installed. Two kinds are told apart: module-level imports (run on
``import``) and imports inside a function (run when it is called, the way heavy or optional
parts are reached). Both must respect the layers; the only function-level exception is the
recipe's eval stage, which calls evalkit (docs/architecture.md explains why).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: dataforge's layers, lowest first. A module may import its own layer and the ones below.
LAYERS: list[tuple[str, ...]] = [
    # foundation: the record schema and the helpers everything uses
    ("dataforge", "dataforge.errors", "dataforge.config", "dataforge.registry", "dataforge.fileio",
     "dataforge.text", "dataforge.models", "dataforge.schemas", "dataforge.outputs", "dataforge.rejects", "dataforge.progress"),
    # reading, writing and rendering records; engines the ops build on
    ("dataforge.formats", "dataforge.chat_template", "dataforge.pii", "dataforge.dedup"),
    # operators over canonical tables, and the executors that run them
    ("dataforge.ops", "dataforge.executors", "dataforge.compose"),
    # generation and scoring
    ("dataforge.synth", "dataforge.verifiers"),
    # composition: recipes and their stages
    ("dataforge.recipe",),
    # commands
    ("dataforge.cli",),
]
#: beside dataforge: evalkit and the trainer back ends build on dataforge below the recipe
#: layer and never on each other; dataforge never imports them at module level
BESIDE = ("evalkit", "backends")
#: function-level imports of a part beside dataforge that are allowed (importer prefix,
#: imported prefix): the recipe's eval and train stages, the train commands
ALLOWED_CALLS = {("dataforge.recipe", "evalkit"), ("dataforge.recipe", "backends"), ("dataforge.cli", "backends")}

LAYER_OF = {part: i for i, parts in enumerate(LAYERS) for part in parts}
RECIPE = LAYER_OF["dataforge.recipe"]


@dataclass(frozen=True)
class Import:
    module: str  # importing module
    target: str  # imported module (or module.name for ``from m import name``)
    line: int
    top_level: bool


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(source: str, module: str, is_package: bool = False) -> list[Import]:
    """Every import in ``source`` (the text of ``module``), relative ones made absolute."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, top_level: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = top_level and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend(Import(module, a.name, child.lineno, inside) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - child.level + 1]
                    source_module = ".".join(base + ([child.module] if child.module else []))
                else:
                    source_module = child.module or ""
                found.extend(Import(module, f"{source_module}.{a.name}", child.lineno, inside) for a in child.names)
            visit(child, inside)

    visit(ast.parse(source), True)
    return found


def _part(name: str) -> str | None:
    """The layer entry ``name`` belongs to (longest matching prefix), or None."""
    best = None
    for part in LAYER_OF:
        if (name == part or name.startswith(part + ".")) and (best is None or len(part) > len(best)):
            best = part
    return best


def _all_imports(package: str) -> list[Import]:
    return [
        imp
        for path in sorted((REPO / package).rglob("*.py"))
        for imp in _imports(path.read_text(encoding="utf-8"), _module_name(path), path.name == "__init__.py")
    ]


def _where(imp: Import) -> str:
    return f"{imp.module}:{imp.line} imports {imp.target}"


def test_every_dataforge_package_has_a_layer():
    """A new top-level part of dataforge must be placed in LAYERS (and in the docs)."""
    parts = {_module_name(p) for p in (REPO / "dataforge").glob("*.py")} | {
        _module_name(p.parent) for p in (REPO / "dataforge").glob("*/__init__.py")
    }
    assert {p for p in parts if _part(p) is None} == set()


def test_no_dataforge_import_runs_upward():
    upward = []
    for imp in _all_imports("dataforge"):
        here, there = _part(imp.module), imp.target.split(".")[0]
        if there in BESIDE:
            if imp.top_level or not any(
                imp.module.startswith(a) and imp.target.startswith(b) for a, b in ALLOWED_CALLS
            ):
                upward.append(_where(imp))
            continue
        target = _part(imp.target)
        if target is not None and LAYER_OF[target] > LAYER_OF[here]:
            upward.append(_where(imp))
    assert upward == []


@pytest.mark.parametrize("package", BESIDE)
def test_evalkit_and_backends_stay_beside(package):
    """They build on dataforge's layers below the recipe, not on recipes, commands or each other."""
    other = [b for b in BESIDE if b != package]
    wrong = []
    for imp in _all_imports(package):
        target = _part(imp.target)
        cli_to_cli = imp.module.startswith(f"{package}.cli") and target == "dataforge.cli"
        if imp.target.split(".")[0] in other or (
            target is not None and LAYER_OF[target] >= RECIPE and not cli_to_cli
        ):
            wrong.append(_where(imp))
    assert wrong == []


def test_the_checker_sees_an_upward_import():
    """Relative imports are resolved and function-level ones found, so none slips through."""
    source = "from ..ops.base import OPS\n\n\ndef later():\n    import evalkit.run\n"
    found = _imports(source, "dataforge.formats.probe")
    assert [(i.target, i.top_level) for i in found] == [("dataforge.ops.base.OPS", True), ("evalkit.run", False)]
    assert LAYER_OF[_part(found[0].target)] > LAYER_OF[_part(found[0].module)]
