"""Saving recipe versions: validated, compiled and test-run before anything is written."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.recipes.models import Recipe, RecipeVersion
from connectors.recipes import (
    CaseResult,
    CompiledRecipe,
    InvalidRecipeError,
    RecipeProblem,
    compile_recipe,
    run_tests,
)

DOMAINS = ("items", "prices", "promotions", "inventory", "orders", "locations")


class RecipeRejectedError(Exception):
    """The recipe was not saved: ``problems`` (invalid spec) or failing ``tests``."""

    def __init__(self, problems: list[RecipeProblem], tests: list[CaseResult] | None = None) -> None:
        super().__init__("recipe rejected")
        self.problems = problems
        self.tests = tests or []


def spec_from_source(source: str) -> dict[str, Any]:
    """A recipe spec from YAML (or JSON, which is YAML) text; ``RecipeRejectedError`` if unreadable."""
    try:
        spec = yaml.safe_load(source)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise RecipeRejectedError([RecipeProblem("source", f"{where}not valid YAML")]) from None
    if not isinstance(spec, dict):
        raise RecipeRejectedError([RecipeProblem("source", "a recipe is a mapping (keys and values)")])
    return spec


def checked(spec: Mapping[str, Any]) -> tuple[CompiledRecipe, list[CaseResult]]:
    """Compile ``spec`` and run its test cases; ``RecipeRejectedError`` unless both succeed."""
    try:
        compiled = compile_recipe(spec)
    except InvalidRecipeError as invalid:
        raise RecipeRejectedError(invalid.problems) from None
    results = run_tests(compiled)
    if not all(result.passed for result in results):
        raise RecipeRejectedError([], results)
    return compiled, results


@dataclass(frozen=True, slots=True)
class SavedVersion:
    recipe: Recipe
    version: RecipeVersion
    created: bool
    tests: list[CaseResult]


async def save_recipe_version(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    name: str,
    domain: str,
    spec: Mapping[str, Any],
    template_key: str | None,
    created_by: str | None,
) -> SavedVersion:
    """Add a version to recipe ``name`` (creating the recipe on first save). Saving the same spec as
    the latest version changes nothing and returns that version."""
    if domain not in DOMAINS:
        raise RecipeRejectedError([RecipeProblem("domain", f"must be one of {', '.join(DOMAINS)}")])
    compiled, tests = checked(spec)
    direction = compiled.recipe.direction
    recipe = await session.scalar(
        select(Recipe).where(Recipe.tenant_id == tenant_id, Recipe.name == name).with_for_update()
    )
    if recipe is None:
        recipe = Recipe(
            tenant_id=tenant_id, name=name, domain=domain, direction=direction, template_key=template_key
        )
        recipe.latest_version = 0
        session.add(recipe)
        await session.flush()
    else:
        mismatch = [
            RecipeProblem(field, f"recipe {name!r} is {existing}; a new version cannot change it")
            for field, existing, given in (
                ("domain", recipe.domain, domain),
                ("spec.direction", recipe.direction, direction),
            )
            if existing != given
        ]
        if mismatch:
            raise RecipeRejectedError(mismatch)
        latest = await latest_version(session, recipe)
        if latest is not None and latest.spec_digest == compiled.fingerprint:
            return SavedVersion(recipe, latest, created=False, tests=tests)
    recipe.latest_version += 1
    version = RecipeVersion(
        recipe_id=recipe.id,
        tenant_id=tenant_id,
        version=recipe.latest_version,
        spec=dict(spec),
        spec_digest=compiled.fingerprint,
        created_by=created_by,
    )
    session.add(version)
    await session.flush()
    return SavedVersion(recipe, version, created=True, tests=tests)


async def latest_version(session: AsyncSession, recipe: Recipe) -> RecipeVersion | None:
    return await get_version(session, recipe, recipe.latest_version)


async def get_version(session: AsyncSession, recipe: Recipe, version: int) -> RecipeVersion | None:
    return await session.scalar(
        select(RecipeVersion).where(RecipeVersion.recipe_id == recipe.id, RecipeVersion.version == version)
    )


async def get_recipe(session: AsyncSession, tenant_id: uuid.UUID, recipe_id: uuid.UUID) -> Recipe | None:
    return await session.scalar(select(Recipe).where(Recipe.tenant_id == tenant_id, Recipe.id == recipe_id))


async def version_spec(
    session: AsyncSession, recipe_id: uuid.UUID, version: int | None = None
) -> dict[str, Any]:
    """The spec of a recipe's ``version``, or of its latest version."""
    recipe = await session.get(Recipe, recipe_id)
    assert recipe is not None  # flows reference recipes with ON DELETE RESTRICT
    found = await get_version(session, recipe, version or recipe.latest_version)
    assert found is not None
    return found.spec
