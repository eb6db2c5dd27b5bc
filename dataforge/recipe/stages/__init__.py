"""The stages a recipe runs (see ``base.py`` for the contract) and how a recipe becomes a
plan: an ordered list of stages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Stage, StageContext, StageOutcome, fingerprint, versions
from .data import Data
from .evaluate import Eval
from .synth import Synth

if TYPE_CHECKING:
    from ..model import Recipe


def plan(recipe: "Recipe") -> list[Stage]:
    """The stages of ``recipe`` in the order they run."""
    stages: list[Stage] = [Data(recipe.data)]
    if recipe.synth is not None:
        stages.append(Synth(recipe.synth))
    if recipe.eval is not None:
        stages.append(Eval(recipe.eval, recipe.model))
    return stages


__all__ = ["Data", "Eval", "Synth", "Stage", "StageContext", "StageOutcome", "fingerprint", "plan", "versions"]
