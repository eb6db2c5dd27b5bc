"""Recipes: the whole loop (data -> eval, training stages to come) from one YAML file."""

from .model import Recipe, RecipeError, load_recipe
from .runner import RecipeRunner, StageOutcome

__all__ = ["Recipe", "RecipeError", "load_recipe", "RecipeRunner", "StageOutcome"]
