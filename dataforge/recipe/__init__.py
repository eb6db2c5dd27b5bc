"""Recipes: the whole loop (data -> synth -> train -> eval -> report) from one YAML file."""

from . import stages
from .model import Recipe, RecipeError, load_recipe
from .runner import RecipeRunner
from .stages import Stage, StageContext, StageOutcome

__all__ = ["Recipe", "RecipeError", "RecipeRunner", "Stage", "StageContext", "StageOutcome", "load_recipe", "stages"]
