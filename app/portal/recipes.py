"""The recipe editor in the portal: a recipe's YAML beside a sample payload; as either changes (htmx,
debounced) the mapped output or the precise problems (path and reason) and the recipe's own test cases
show; saving makes a new version; versions are listed, compared and rolled back (a rollback saves the
old spec as the newest version, so history only grows)."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

import msgspec
import yaml
from litestar import Controller, Request, get, post
from litestar.di import Provide
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import Body
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.http.pagination import keyset_page
from app.http.state import services_of
from app.portal.context import PortalUser, provide_brand, provide_portal_user, retailer_of
from app.recipes.models import Recipe, RecipeVersion
from app.recipes.service import (
    RecipeRejectedError,
    get_recipe,
    get_version,
    save_recipe_version,
    spec_from_source,
)
from connectors.recipes import preview
from connectors.recipes.diff import diff_specs
from connectors.recipes.errors import RecipeProblem
from tenants.branding import Brand

PAGE_SIZE = 50


class EditorForm(msgspec.Struct):
    source: str = ""
    sample: str = ""


Form = Annotated[EditorForm, Body(media_type=RequestEncodingType.URL_ENCODED)]


def _tenant_of(portal_user: PortalUser) -> uuid.UUID:
    return retailer_of(portal_user, "Recipes")


TOP_LEVEL_ORDER = ("recipe", "name", "direction", "input", "output", "filter", "lookups", "fields", "tests")
"""How recipe files are written by hand; stored specs (JSONB) do not keep the order they came in."""


def yaml_of(spec: dict[str, Any]) -> str:
    ordered = {key: spec[key] for key in TOP_LEVEL_ORDER if key in spec}
    ordered |= {key: value for key, value in spec.items() if key not in ordered}
    return yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True)


def default_sample(spec: dict[str, Any]) -> str:
    """The first test case's input, to start the preview with something real."""
    cases = spec.get("tests") or []
    first = cases[0].get("input") if cases and isinstance(cases[0], dict) else None
    return json.dumps(first if first is not None else {}, indent=2, default=str)


def outcome(source: str, sample: str) -> dict[str, Any]:
    """What the preview panel shows for this source and sample: problems, or the mapping and tests."""
    try:
        spec = spec_from_source(source)
    except RecipeRejectedError as rejected:
        return {"problems": rejected.problems, "results": [], "tests": []}
    try:
        samples = json.loads(sample) if sample.strip() else {}
    except ValueError as error:
        return {"problems": [RecipeProblem("sample", f"not valid JSON: {error}")], "results": [], "tests": []}
    shown = preview(spec, samples if isinstance(samples, list) else [samples])
    results = [
        {
            "status": r.status,
            "output": json.dumps(msgspec.to_builtins(r.output), indent=2, default=str) if r.output else None,
            "error": r.error.as_dict() if r.error else None,
        }
        for r in shown.results
    ]
    return {"problems": shown.problems, "results": results, "tests": shown.tests}


class PortalRecipeController(Controller):
    path = "/recipes"
    include_in_schema = False
    dependencies = {"brand": Provide(provide_brand), "portal_user": Provide(provide_portal_user)}

    async def _recipe(
        self, session: AsyncSession, portal_user: PortalUser, recipe_id: uuid.UUID
    ) -> tuple[Recipe, list[RecipeVersion]]:
        if portal_user.current.tenant_id is None and portal_user.current.role.level == "partner":
            # a partner edits its retailers' recipes (onboarding); row-level security keeps it to them
            recipe = await session.get(Recipe, recipe_id)
        else:
            recipe = await get_recipe(session, _tenant_of(portal_user), recipe_id)
        if recipe is None:
            raise NotFoundException("No such recipe.")
        versions = (
            await session.scalars(
                select(RecipeVersion)
                .where(RecipeVersion.recipe_id == recipe.id)
                .order_by(RecipeVersion.version.desc())
            )
        ).all()
        return recipe, list(versions)

    @get("/", operation_id="PortalRecipes")
    async def list_recipes(
        self,
        request: Request[Any, Any, Any],
        brand: Brand,
        portal_user: PortalUser,
        cursor: str | None = None,
    ) -> Template:
        tenant_id = _tenant_of(portal_user)
        async with services_of(request).db.transaction(portal_user.db_scope()) as session:
            page = await keyset_page(
                session,
                select(Recipe).where(Recipe.tenant_id == tenant_id),
                (Recipe.name, Recipe.id),
                PAGE_SIZE,
                cursor,
                lambda recipe: recipe,
            )
        context = {"brand": brand, "me": portal_user, "recipes": page.items, "next_cursor": page.next_cursor}
        return Template("recipes.html", context=context)

    @get("/{recipe_id:uuid}", operation_id="PortalRecipeEditor")
    async def editor(
        self,
        request: Request[Any, Any, Any],
        brand: Brand,
        portal_user: PortalUser,
        recipe_id: uuid.UUID,
        version: int | None = None,
        saved: int | None = None,
    ) -> Template:
        """The latest version (or ``version``) in the editor, with its preview on a sample."""
        async with services_of(request).db.transaction(portal_user.db_scope()) as session:
            recipe, versions = await self._recipe(session, portal_user, recipe_id)
            shown = await get_version(session, recipe, version or recipe.latest_version)
        if shown is None:
            raise NotFoundException("No such version.")
        source, sample = yaml_of(shown.spec), default_sample(shown.spec)
        context = {
            "brand": brand,
            "me": portal_user,
            "recipe": recipe,
            "versions": versions,
            "shown": shown.version,
            "source": source,
            "sample": sample,
            "saved": saved,
            "outcome": outcome(source, sample),
        }
        return Template("recipe_editor.html", context=context)

    @post("/{recipe_id:uuid}/preview", operation_id="PortalRecipePreview", status_code=200)
    async def live_preview(
        self, request: Request[Any, Any, Any], portal_user: PortalUser, recipe_id: uuid.UUID, data: Form
    ) -> Template:
        """The preview panel for the text typed so far (htmx partial); never an error page."""
        async with services_of(request).db.transaction(portal_user.db_scope()) as session:
            await self._recipe(session, portal_user, recipe_id)  # another tenant's id is 404, as elsewhere
        return Template(
            "partials/recipe_outcome.html", context={"outcome": outcome(data.source, data.sample)}
        )

    @post("/{recipe_id:uuid}", operation_id="PortalSaveRecipe", status_code=303)
    async def save(
        self,
        request: Request[Any, Any, Any],
        brand: Brand,
        portal_user: PortalUser,
        recipe_id: uuid.UUID,
        data: Form,
    ) -> Redirect | Template:
        """Save the text as a new version (validated, compiled, its tests run); the problems otherwise."""
        if not portal_user.role.can_write:
            raise PermissionDeniedException("Your role can read recipes but not change them.")
        async with services_of(request).db.transaction(portal_user.db_scope()) as session:
            recipe, versions = await self._recipe(session, portal_user, recipe_id)
            try:
                saved = await save_recipe_version(
                    session,
                    tenant_id=recipe.tenant_id,
                    name=recipe.name,
                    domain=recipe.domain,
                    spec=spec_from_source(data.source),
                    template_key=recipe.template_key,
                    created_by=f"user:{portal_user.user.id}",
                )
            except RecipeRejectedError as rejected:
                failed = [t for t in rejected.tests if not t.passed]
                problems = rejected.problems + [
                    RecipeProblem(f"tests.{t.name}", t.error or "; ".join(t.differences)) for t in failed
                ]
                context = {
                    "brand": brand,
                    "me": portal_user,
                    "recipe": recipe,
                    "versions": versions,
                    "shown": None,
                    "source": data.source,
                    "sample": data.sample,
                    "saved": None,
                    "outcome": {**outcome(data.source, data.sample), "problems": problems},
                }
                return Template("recipe_editor.html", context=context, status_code=422)
        return Redirect(f"/recipes/{recipe_id}?saved={saved.version.version}", status_code=303)

    @post("/{recipe_id:uuid}/rollback/{version:int}", operation_id="PortalRollbackRecipe", status_code=303)
    async def rollback(
        self, request: Request[Any, Any, Any], portal_user: PortalUser, recipe_id: uuid.UUID, version: int
    ) -> Redirect:
        """Make ``version``'s spec the newest version again."""
        if not portal_user.role.can_write:
            raise PermissionDeniedException("Your role can read recipes but not change them.")
        async with services_of(request).db.transaction(portal_user.db_scope()) as session:
            recipe, _ = await self._recipe(session, portal_user, recipe_id)
            old = await get_version(session, recipe, version)
            if old is None:
                raise NotFoundException("No such version.")
            saved = await save_recipe_version(
                session,
                tenant_id=recipe.tenant_id,
                name=recipe.name,
                domain=recipe.domain,
                spec=old.spec,
                template_key=recipe.template_key,
                created_by=f"user:{portal_user.user.id}",
            )
        return Redirect(f"/recipes/{recipe_id}?saved={saved.version.version}", status_code=303)

    @get("/{recipe_id:uuid}/compare", operation_id="PortalCompareRecipe")
    async def compare(
        self,
        request: Request[Any, Any, Any],
        brand: Brand,
        portal_user: PortalUser,
        recipe_id: uuid.UUID,
        before: int,
        after: int,
    ) -> Template:
        """What changed from version ``before`` to version ``after``, path by path."""
        async with services_of(request).db.transaction(portal_user.db_scope()) as session:
            recipe, _ = await self._recipe(session, portal_user, recipe_id)
            old, new = await get_version(session, recipe, before), await get_version(session, recipe, after)
        if old is None or new is None:
            raise NotFoundException("No such version.")
        changes = diff_specs(old.spec, new.spec)
        context = {
            "brand": brand,
            "me": portal_user,
            "recipe": recipe,
            "before": before,
            "after": after,
            "changes": changes,
        }
        return Template("recipe_compare.html", context=context)
