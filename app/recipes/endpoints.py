"""``/api/v1/recipes``: list, save a version (validated, compiled, test-run), read, preview on samples."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide
from litestar.params import Parameter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.auth import provide_principal, provide_tenant_session, requires_scope
from app.http.actor import request_actor
from app.http.pagination import DEFAULT_LIMIT, Page, newest_first
from app.http.problems import Problem
from app.recipes.models import Recipe, RecipeVersion
from app.recipes.service import (
    RecipeRejectedError,
    get_recipe,
    get_version,
    save_recipe_version,
    spec_from_source,
)
from connectors.recipes import CaseResult, MappedRecord, default_recipes, preview
from connectors.recipes.diff import diff_specs
from connectors.recipes.testing import Preview
from tenants.api_keys import ApiPrincipal
from tenants.audit import record_audit

MAX_SAMPLES = 100


class RecipeView(msgspec.Struct):
    id: uuid.UUID
    name: str
    domain: str
    direction: str
    template: str | None
    latest_version: int
    created_at: datetime

    @classmethod
    def of(cls, row: Recipe) -> RecipeView:
        return cls(
            row.id, row.name, row.domain, row.direction, row.template_key, row.latest_version, row.created_at
        )


class VersionView(msgspec.Struct):
    version: int
    digest: str
    created_by: str | None
    created_at: datetime
    spec: dict[str, Any] | None = None

    @classmethod
    def of(cls, row: RecipeVersion, *, with_spec: bool = True) -> VersionView:
        return cls(
            row.version, row.spec_digest, row.created_by, row.created_at, row.spec if with_spec else None
        )


class RecipeDetail(msgspec.Struct):
    recipe: RecipeView
    latest: VersionView | None
    versions: list[VersionView]


class CaseView(msgspec.Struct):
    name: str
    passed: bool
    differences: list[str]
    error: str | None

    @classmethod
    def of(cls, result: CaseResult) -> CaseView:
        return cls(result.name, result.passed, list(result.differences), result.error)


class SavedRecipe(msgspec.Struct):
    recipe: RecipeView
    version: VersionView
    created: bool
    tests: list[CaseView]


class SaveRecipe(msgspec.Struct, forbid_unknown_fields=True):
    """Give the recipe as ``spec`` (JSON) or as ``source`` (YAML or JSON text), not both."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    domain: str
    spec: dict[str, Any] | None = None
    source: Annotated[str, msgspec.Meta(max_length=200_000)] | None = None
    template: str | None = None


class PreviewRequest(msgspec.Struct, forbid_unknown_fields=True):
    samples: Annotated[list[Any], msgspec.Meta(min_length=1, max_length=MAX_SAMPLES)]
    version: int | None = None
    spec: dict[str, Any] | None = None
    source: str | None = None


class MappedView(msgspec.Struct):
    index: int
    status: str
    output: dict[str, Any] | None
    error: dict[str, str] | None

    @classmethod
    def of(cls, result: MappedRecord) -> MappedView:
        output = msgspec.to_builtins(result.output) if result.output is not None else None
        return cls(result.index, result.status, output, result.error.as_dict() if result.error else None)


class PreviewView(msgspec.Struct):
    valid: bool
    problems: list[dict[str, str]]
    results: list[MappedView]
    tests: list[CaseView]

    @classmethod
    def of(cls, outcome: Preview) -> PreviewView:
        return cls(
            not outcome.problems,
            [p.as_dict() for p in outcome.problems],
            [MappedView.of(r) for r in outcome.results],
            [CaseView.of(t) for t in outcome.tests],
        )


class ChangeView(msgspec.Struct):
    path: str
    kind: str
    before: Any
    after: Any


class RecipeDiff(msgspec.Struct):
    base: int
    target: int
    changes: list[ChangeView]


class DefaultRecipeView(msgspec.Struct):
    template: str
    domain: str
    direction: str
    spec: dict[str, Any]


def _spec_of(spec: dict[str, Any] | None, source: str | None) -> dict[str, Any]:
    if (spec is None) == (source is None):
        raise Problem(
            422,
            "Give the recipe as either spec or source.",
            type_slug="invalid-recipe",
            errors=[{"path": "spec", "reason": "exactly one of spec and source is needed"}],
        )
    try:
        return spec if spec is not None else spec_from_source(source or "")
    except RecipeRejectedError as rejected:
        raise _rejected(rejected) from None


def _rejected(rejected: RecipeRejectedError) -> Problem:
    if rejected.problems:
        return Problem(
            422,
            f"The recipe has {len(rejected.problems)} problem(s).",
            type_slug="invalid-recipe",
            errors=[
                {
                    "path": p.path if p.path in ("source", "domain") else f"spec.{p.path}".rstrip("."),
                    "reason": p.reason,
                }
                for p in rejected.problems
            ],
        )
    failed = [t for t in rejected.tests if not t.passed]
    return Problem(
        422,
        f"{len(failed)} of the recipe's {len(rejected.tests)} test case(s) failed; nothing was saved.",
        type_slug="recipe-tests-failed",
        errors=[
            {"path": f"spec.tests.{t.name}", "reason": t.error or "; ".join(t.differences)} for t in failed
        ],
    )


class RecipeController(Controller):
    path = "/recipes"
    tags = ["recipes"]
    dependencies = {"session": Provide(provide_tenant_session), "principal": Provide(provide_principal)}

    @get("/", operation_id="ListRecipes", guards=[requires_scope("recipes:read")])
    async def list_recipes(
        self,
        session: AsyncSession,
        principal: ApiPrincipal,
        limit: Annotated[int, Parameter(ge=1, le=500)] = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[RecipeView]:
        """The tenant's recipes, newest first."""
        query = select(Recipe).where(Recipe.tenant_id == principal.tenant_id)
        return await newest_first(
            session, query, (Recipe.created_at, Recipe.id), limit, cursor, RecipeView.of
        )

    @post("/", operation_id="SaveRecipe", guards=[requires_scope("recipes:write")])
    async def save(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        principal: ApiPrincipal,
        data: SaveRecipe,
    ) -> Response[SavedRecipe]:
        """Save a new version of recipe ``name`` (created on first save) after validating, compiling and
        running its test cases; 201 for a new version, 200 when the spec equals the latest one."""
        spec = _spec_of(data.spec, data.source)
        try:
            saved = await save_recipe_version(
                session,
                tenant_id=principal.tenant_id,
                name=data.name,
                domain=data.domain,
                spec=spec,
                template_key=data.template,
                created_by=f"api_key:{principal.key_id}",
            )
        except RecipeRejectedError as rejected:
            raise _rejected(rejected) from None
        if saved.created:
            await record_audit(
                session,
                request_actor(request, "api_key", principal.key_id),
                action="recipe.version_saved",
                target_type="recipe",
                target_id=saved.recipe.id,
                tenant_id=principal.tenant_id,
                changes={
                    "after": {
                        "name": saved.recipe.name,
                        "version": saved.version.version,
                        "digest": saved.version.spec_digest,
                    }
                },
            )
        body = SavedRecipe(
            RecipeView.of(saved.recipe),
            VersionView.of(saved.version),
            saved.created,
            [CaseView.of(t) for t in saved.tests],
        )
        return Response(body, status_code=201 if saved.created else 200)

    @get("/defaults", operation_id="ListDefaultRecipes", guards=[requires_scope("recipes:read")])
    async def defaults(self, template: str | None = None) -> list[DefaultRecipeView]:
        """The recipes built-in templates ship, one per template × domain × direction."""
        return [
            DefaultRecipeView(d.template_key, d.domain, d.direction, d.spec)
            for d in default_recipes()
            if template is None or d.template_key == template
        ]

    @post(
        "/preview",
        operation_id="PreviewRecipeDraft",
        guards=[requires_scope("recipes:read")],
        status_code=200,
    )
    async def preview_draft(self, data: PreviewRequest) -> PreviewView:
        """Map samples with an unsaved spec (the editor's live preview); problems come back, not errors."""
        return PreviewView.of(preview(_spec_of(data.spec, data.source), data.samples))

    @get("/{recipe_id:uuid}", operation_id="GetRecipe", guards=[requires_scope("recipes:read")])
    async def read(
        self, session: AsyncSession, principal: ApiPrincipal, recipe_id: uuid.UUID
    ) -> RecipeDetail:
        """A recipe with its latest spec and the list of its versions."""
        recipe = await get_recipe(session, principal.tenant_id, recipe_id)
        if recipe is None:
            raise Problem(404, "No such recipe.")
        versions = list(
            (
                await session.scalars(
                    select(RecipeVersion)
                    .where(RecipeVersion.recipe_id == recipe.id)
                    .order_by(RecipeVersion.version.desc())
                )
            ).all()
        )
        latest = VersionView.of(versions[0]) if versions else None
        return RecipeDetail(
            RecipeView.of(recipe), latest, [VersionView.of(v, with_spec=False) for v in versions]
        )

    @get(
        "/{recipe_id:uuid}/versions/{version:int}",
        operation_id="GetRecipeVersion",
        guards=[requires_scope("recipes:read")],
    )
    async def read_version(
        self, session: AsyncSession, principal: ApiPrincipal, recipe_id: uuid.UUID, version: int
    ) -> VersionView:
        """One saved version of a recipe."""
        recipe = await get_recipe(session, principal.tenant_id, recipe_id)
        found = await get_version(session, recipe, version) if recipe else None
        if found is None:
            raise Problem(404, "No such recipe version.")
        return VersionView.of(found)

    @get("/{recipe_id:uuid}/diff", operation_id="DiffRecipeVersions", guards=[requires_scope("recipes:read")])
    async def diff(
        self,
        session: AsyncSession,
        principal: ApiPrincipal,
        recipe_id: uuid.UUID,
        base: Annotated[int, Parameter(ge=1)],
        target: Annotated[int | None, Parameter(ge=1)] = None,
    ) -> RecipeDiff:
        """What changed from version ``base`` to version ``target`` (default: the latest)."""
        recipe = await get_recipe(session, principal.tenant_id, recipe_id)
        if recipe is None:
            raise Problem(404, "No such recipe.")
        target = target or recipe.latest_version
        old, new = await get_version(session, recipe, base), await get_version(session, recipe, target)
        missing = [name for name, found in (("base", old), ("target", new)) if found is None]
        if old is None or new is None:
            raise Problem(
                404,
                "No such recipe version.",
                errors=[{"path": name, "reason": "not saved"} for name in missing],
            )
        changes = [ChangeView(c.path, c.kind, c.before, c.after) for c in diff_specs(old.spec, new.spec)]
        return RecipeDiff(base, target, changes)

    @post(
        "/{recipe_id:uuid}/preview",
        operation_id="PreviewRecipe",
        guards=[requires_scope("recipes:read")],
        status_code=200,
    )
    async def preview_saved(
        self, session: AsyncSession, principal: ApiPrincipal, recipe_id: uuid.UUID, data: PreviewRequest
    ) -> PreviewView:
        """Map samples with a saved version (the latest unless ``version`` is given)."""
        if data.spec is not None or data.source is not None:
            raise Problem(
                422,
                "A saved recipe previews its own spec; use /recipes/preview for drafts.",
                errors=[{"path": "spec", "reason": "not allowed here"}],
            )
        recipe = await get_recipe(session, principal.tenant_id, recipe_id)
        if recipe is None:
            raise Problem(404, "No such recipe.")
        found = await get_version(session, recipe, data.version or recipe.latest_version)
        if found is None:
            raise Problem(404, "No such recipe version.", errors=[{"path": "version", "reason": "not saved"}])
        return PreviewView.of(preview(found.spec, data.samples))
