"""The webhook template's default recipes pass their own test cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.recipes import run_tests
from connectors.recipes.defaults import TEMPLATES_DIR, load_recipe_file

RECIPES = sorted((TEMPLATES_DIR / "webhook" / "recipes").glob("*.yaml"))


class TestDefaultRecipes:
    def test_ships_recipes(self) -> None:
        assert RECIPES

    @pytest.mark.parametrize("path", RECIPES, ids=[p.name for p in RECIPES])
    def test_cases_pass(self, path: Path) -> None:
        results = run_tests(load_recipe_file(path))
        assert results
        assert all(r.passed for r in results), "\n".join(str(r) for r in results)
