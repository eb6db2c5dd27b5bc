"""docs/reference/ is generated from the configs and must be current."""

from __future__ import annotations

from pathlib import Path

from dataforge.recipe.reference import PAGES

REPO = Path(__file__).resolve().parents[3]


def test_reference_pages_are_current():
    for name, render in PAGES.items():
        path = REPO / "docs" / "reference" / name
        assert path.read_text(encoding="utf-8") == render(), (
            f"{path} is stale: run `dataforge reference --output docs/reference`")


def test_recipe_reference_lists_every_key_with_its_default():
    page = PAGES["recipe.md"]()
    for key in ("`name`", "`data.inputs.path`", "`data.split.test_ratio`", "`eval.engine_options`",
                "`eval.generation.max_new_tokens`"):
        assert key in page
    assert "`0.1`" in page  # test_ratio's default
