"""Mapping recipes (DESIGN §4): data that maps payloads to canonical records and back, compiled once."""

from __future__ import annotations

from connectors.recipes.compiler import CompiledRecipe, MappedRecord, compile_recipe
from connectors.recipes.defaults import DefaultRecipe, default_recipe, default_recipes
from connectors.recipes.errors import InvalidRecipeError, RecipeError, RecipeProblem
from connectors.recipes.inputs import record_input
from connectors.recipes.spec import Recipe, parse_recipe, validate_recipe
from connectors.recipes.testing import CaseResult, Preview, preview, run_tests

__all__ = [
    "CaseResult",
    "CompiledRecipe",
    "DefaultRecipe",
    "InvalidRecipeError",
    "MappedRecord",
    "Preview",
    "Recipe",
    "RecipeError",
    "RecipeProblem",
    "compile_recipe",
    "default_recipe",
    "default_recipes",
    "parse_recipe",
    "preview",
    "record_input",
    "run_tests",
    "validate_recipe",
]
