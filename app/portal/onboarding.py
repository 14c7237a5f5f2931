"""The partner's onboarding wizard for a new retailer: details → users (invitations) → connections (a
form generated from the template's JSON Schema; secrets write-only; the connector's real check) →
recipes (from the template's defaults) → flows → go live.

Each step writes real rows as it goes, so the wizard can be left at any point: ``/partner/onboarding/
{tenant}`` resumes at the first step not done. Flows made here stay switched off until "go live".
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import FormMultiDict
from litestar.di import Provide
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.response import Redirect, Template
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.connections.models import Connection
from app.connections.service import (
    create_connection,
    network_policy,
    run_connection_check,
    tenant_folder,
)
from app.connections.templates import available_templates, resolve_template
from app.crypto import SecretBox
from app.flows.models import Flow
from app.flows.service import DestinationSpec, FlowRejectedError, create_flow
from app.http.actor import request_actor
from app.http.correlation import correlation_id_of
from app.http.state import services_of
from app.plans.quotas import QuotaExceededError
from app.portal.context import PortalUser, partner_of, provide_brand, provide_portal_user
from app.portal.invitations import INVITABLE, invite_to_tenant, read_invitation
from app.portal.schema_form import form_fields, form_values
from app.recipes.models import Recipe
from app.recipes.service import RecipeRejectedError, save_recipe_version
from connectors.recipes import default_recipe
from connectors.registry import UnknownTemplateError
from connectors.sdk.errors import ConfigError
from tenants.audit import record_audit
from tenants.branding import Brand
from tenants.models import Membership, Tenant, User
from tenants.service import DuplicateError, create_tenant

STEPS = ("details", "users", "connections", "recipes", "flows", "live")
_SLUG = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def _partner_of(portal_user: PortalUser) -> uuid.UUID:
    partner_id = partner_of(portal_user, "Onboarding")
    if not portal_user.role.can_write:
        raise PermissionDeniedException("Your role cannot onboard retailers.")
    return partner_id


async def _form(request: Request[Any, Any, Any]) -> FormMultiDict:
    return await request.form()


class Wizard:
    """One retailer's wizard: what exists so far, which steps are done."""

    def __init__(self, session: AsyncSession, tenant: Tenant) -> None:
        self.session, self.tenant = session, tenant

    async def counts(self) -> dict[str, int]:
        tenant_id = self.tenant.id

        async def count(model: Any, *where: Any) -> int:
            return int(await self.session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

        return {
            "users": await count(Membership, Membership.tenant_id == tenant_id),
            "connections": await count(Connection, Connection.tenant_id == tenant_id),
            "recipes": await count(Recipe, Recipe.tenant_id == tenant_id),
            "flows": await count(Flow, Flow.tenant_id == tenant_id),
            "live": await count(Flow, Flow.tenant_id == tenant_id, Flow.is_enabled.is_(True)),
        }

    async def next_step(self) -> str:
        done = await self.counts()
        return next((step for step in STEPS[1:] if not done[step]), "live")


class PortalOnboardingController(Controller):
    path = "/partner/onboarding"
    include_in_schema = False
    dependencies = {"brand": Provide(provide_brand), "portal_user": Provide(provide_portal_user)}

    async def _tenant(self, session: AsyncSession, partner_id: uuid.UUID, tenant_id: uuid.UUID) -> Tenant:
        tenant = await session.scalar(
            select(Tenant).where(Tenant.id == tenant_id, Tenant.partner_id == partner_id)
        )
        if tenant is None:
            raise NotFoundException("No such retailer.")
        return tenant

    async def _page(
        self,
        request: Request[Any, Any, Any],
        brand: Brand,
        portal_user: PortalUser,
        tenant_id: uuid.UUID,
        step: str,
        status_code: int = 200,
        **extra: Any,
    ) -> Template:
        """The wizard page for ``step`` with what the retailer has so far."""
        partner_id = _partner_of(portal_user)
        async with services_of(request).db.transaction(portal_user.db_scope()) as session:
            tenant = await self._tenant(session, partner_id, tenant_id)
            wizard = Wizard(session, tenant)
            counts = await wizard.counts()
            users = (
                await session.execute(
                    select(User.email, Membership.role)
                    .join(Membership, Membership.user_id == User.id)
                    .where(Membership.tenant_id == tenant.id)
                    .order_by(User.email)
                )
            ).all()
            connections = (
                await session.scalars(
                    select(Connection).where(Connection.tenant_id == tenant.id).order_by(Connection.name)
                )
            ).all()
            recipes = (
                await session.scalars(
                    select(Recipe).where(Recipe.tenant_id == tenant.id).order_by(Recipe.name)
                )
            ).all()
            flows = (
                await session.scalars(select(Flow).where(Flow.tenant_id == tenant.id).order_by(Flow.name))
            ).all()
            templates = await available_templates(session, partner_id)
            suggestions = []
            names = {r.name for r in recipes}
            for connection in connections:
                choice = await resolve_template(session, partner_id, connection.template_key)
                for domain in sorted(d.value for d in choice.template.writes | choice.template.reads):
                    for direction in ("outbound", "inbound"):
                        name = f"{connection.name} {domain} {direction}"
                        if name not in names and default_recipe(choice.template.key, domain, direction):
                            suggestions.append((connection, domain, direction, name))
        context = {
            "brand": brand,
            "me": portal_user,
            "tenant": tenant,
            "step": step,
            "steps": STEPS,
            "counts": counts,
            "users": users,
            "roles": INVITABLE,
            "connections": connections,
            "recipes": recipes,
            "flows": flows,
            "templates": templates,
            "suggestions": suggestions,
            "errors": {},
            **extra,
        }
        return Template("onboarding.html", context=context, status_code=status_code)

    # -- details --------------------------------------------------------------------------------

    @get("/", operation_id="PortalOnboardingStart")
    async def start(self, brand: Brand, portal_user: PortalUser) -> Template:
        _partner_of(portal_user)
        context = {
            "brand": brand,
            "me": portal_user,
            "step": "details",
            "steps": STEPS,
            "errors": {},
            "form": {},
        }
        return Template("onboarding_start.html", context=context)

    @post("/", operation_id="PortalOnboardingCreate", status_code=303)
    async def create(
        self, request: Request[Any, Any, Any], brand: Brand, portal_user: PortalUser
    ) -> Redirect | Template:
        """Step 1: the retailer's name and slug."""
        partner_id = _partner_of(portal_user)
        form = await _form(request)
        name, slug = str(form.get("name", "")).strip(), str(form.get("slug", "")).strip().lower()
        errors: dict[str, str] = {}
        if not 1 <= len(name) <= 200:
            errors["name"] = "Give a name of 1 to 200 characters."
        if not _SLUG.match(slug):
            errors["slug"] = "Lower-case letters, digits and dashes; not starting or ending with a dash."
        if not errors:
            try:
                async with services_of(request).db.transaction(portal_user.db_scope()) as session:
                    tenant = await create_tenant(
                        session,
                        request_actor(request, "user", portal_user.user.id),
                        partner_id=partner_id,
                        slug=slug,
                        name=name,
                    )
                return Redirect(f"/partner/onboarding/{tenant.id}/users", status_code=303)
            except DuplicateError:
                errors["slug"] = f"You already have a retailer called {slug!r}."
        context = {
            "brand": brand,
            "me": portal_user,
            "step": "details",
            "steps": STEPS,
            "errors": errors,
            "form": {"name": name, "slug": slug},
        }
        return Template("onboarding_start.html", context=context, status_code=422)

    @get("/{tenant_id:uuid}", operation_id="PortalOnboardingResume", status_code=303)
    async def resume(
        self, request: Request[Any, Any, Any], portal_user: PortalUser, tenant_id: uuid.UUID
    ) -> Redirect:
        """Back to the first step not done."""
        partner_id = _partner_of(portal_user)
        async with services_of(request).db.transaction(portal_user.db_scope()) as session:
            step = await Wizard(session, await self._tenant(session, partner_id, tenant_id)).next_step()
        return Redirect(f"/partner/onboarding/{tenant_id}/{step}", status_code=303)

    @get("/{tenant_id:uuid}/{step:str}", operation_id="PortalOnboardingStep")
    async def step_page(
        self,
        request: Request[Any, Any, Any],
        brand: Brand,
        portal_user: PortalUser,
        tenant_id: uuid.UUID,
        step: str,
    ) -> Template:
        if step not in STEPS[1:]:
            raise NotFoundException("No such step.")
        template_key = request.query_params.get("template")
        extra: dict[str, Any] = {}
        if step == "connections" and template_key:
            extra = await self._connection_form(request, portal_user, template_key)
        return await self._page(request, brand, portal_user, tenant_id, step, **extra)

    # -- users ------------------------------------------------------------------------------------

    @post("/{tenant_id:uuid}/invite", operation_id="PortalOnboardingInvite", status_code=303)
    async def invite(
        self, request: Request[Any, Any, Any], brand: Brand, portal_user: PortalUser, tenant_id: uuid.UUID
    ) -> Redirect | Template:
        """Invite a user with a retailer role; they get a mail to choose a password."""
        partner_id = _partner_of(portal_user)
        email, role, errors = read_invitation(await _form(request))
        if not errors:
            async with services_of(request).db.transaction(portal_user.db_scope()) as session:
                tenant = await self._tenant(session, partner_id, tenant_id)
            errors = await invite_to_tenant(request, brand, portal_user, tenant, email, role)
        if errors:
            return await self._page(request, brand, portal_user, tenant_id, "users", 422, errors=errors)
        return Redirect(f"/partner/onboarding/{tenant_id}/users", status_code=303)

    # -- connections ------------------------------------------------------------------------------

    async def _connection_form(
        self, request: Request[Any, Any, Any], portal_user: PortalUser, template_key: str
    ) -> dict[str, Any]:
        partner_id = _partner_of(portal_user)
        async with services_of(request).db.transaction(portal_user.db_scope()) as session:
            try:
                choice = await resolve_template(session, partner_id, template_key)
            except UnknownTemplateError:
                raise NotFoundException("No such connector template.") from None
        return {"chosen": choice, "fields": form_fields(choice.config_schema)}

    @post("/{tenant_id:uuid}/connect", operation_id="PortalOnboardingConnect", status_code=303)
    async def connect(
        self, request: Request[Any, Any, Any], brand: Brand, portal_user: PortalUser, tenant_id: uuid.UUID
    ) -> Redirect | Template:
        """A connection from one of the partner's templates; config checked by the template."""
        partner_id = _partner_of(portal_user)
        form = await _form(request)
        template_key, name = str(form.get("template", "")), str(form.get("name", "")).strip()
        chosen = await self._connection_form(request, portal_user, template_key)
        values, errors = form_values(chosen["chosen"].config_schema, form)
        if not 1 <= len(name) <= 200:
            errors["name"] = "Give the connection a name."
        services = services_of(request)
        if not errors:
            try:
                async with services.db.transaction(portal_user.db_scope()) as session:
                    tenant = await self._tenant(session, partner_id, tenant_id)
                    if await session.scalar(
                        select(Connection.id).where(
                            Connection.tenant_id == tenant.id, Connection.name == name
                        )
                    ):
                        raise ConfigError("taken", [("name", f"a connection named {name!r} exists")])
                    row = await create_connection(
                        session,
                        SecretBox.from_settings(services.settings),
                        folder=tenant_folder(services.settings, tenant.id),
                        network=network_policy(services.settings),
                        tenant_id=tenant.id,
                        partner_id=partner_id,
                        name=name,
                        template_key=template_key,
                        values=values,
                        now=services.clock.now(),
                    )
                    await record_audit(
                        session,
                        request_actor(request, "user", portal_user.user.id),
                        action="connection.created",
                        target_type="connection",
                        target_id=row.id,
                        tenant_id=tenant.id,
                        changes={"after": {"name": name, "template": template_key, "config": row.config}},
                    )
                return Redirect(f"/partner/onboarding/{tenant_id}/connections", status_code=303)
            except ConfigError as error:
                errors = {path.split(".")[0] or "config": reason for path, reason in error.problems} or {
                    "config": error.message
                }
            except QuotaExceededError as error:
                errors = {"name": f"{error} Raise the plan's connections quota first."}
        shown = {k: v for k, v in form.items() if not k.startswith("config.")} | {
            k: v for k, v in form.items() if k.startswith("config.") and not self._secret(chosen, k)
        }
        return await self._page(
            request, brand, portal_user, tenant_id, "connections", 422, errors=errors, form=shown, **chosen
        )

    @staticmethod
    def _secret(chosen: dict[str, Any], key: str) -> bool:
        return any(f.widget == "password" and f"config.{f.name}" == key for f in chosen["fields"])

    @post(
        "/{tenant_id:uuid}/test/{connection_id:uuid}",
        operation_id="PortalOnboardingTest",
        status_code=200,
    )
    async def test_connection(
        self,
        request: Request[Any, Any, Any],
        portal_user: PortalUser,
        tenant_id: uuid.UUID,
        connection_id: uuid.UUID,
    ) -> Template:
        """The connector's real check against the remote system (htmx partial)."""
        partner_id = _partner_of(portal_user)
        services = services_of(request)
        async with services.db.transaction(portal_user.db_scope()) as session:
            tenant = await self._tenant(session, partner_id, tenant_id)
            row = await session.scalar(
                select(Connection).where(Connection.id == connection_id, Connection.tenant_id == tenant.id)
            )
            if row is None:
                raise NotFoundException("No such connection.")
            check = await run_connection_check(
                session,
                services.settings,
                SecretBox.from_settings(services.settings),
                row,
                partner_id=partner_id,
                now=services.clock.now(),
                correlation_id=correlation_id_of(request.scope),
            )
        return Template("partials/connection_check.html", context={"check": check, "connection": row})

    # -- recipes ----------------------------------------------------------------------------------

    @post("/{tenant_id:uuid}/add-recipe", operation_id="PortalOnboardingRecipe", status_code=303)
    async def add_recipe(
        self, request: Request[Any, Any, Any], portal_user: PortalUser, tenant_id: uuid.UUID
    ) -> Redirect:
        """A recipe started from the template's default for a connection, domain and direction."""
        partner_id = _partner_of(portal_user)
        form = await _form(request)
        try:
            connection_id = uuid.UUID(str(form.get("connection")))
        except ValueError:  # a hand-made form: the same answer as an id that is not the retailer's
            raise NotFoundException("No such connection.") from None
        domain, direction = str(form.get("domain", "")), str(form.get("direction", ""))
        async with services_of(request).db.transaction(portal_user.db_scope()) as session:
            tenant = await self._tenant(session, partner_id, tenant_id)
            connection = await session.scalar(
                select(Connection).where(Connection.id == connection_id, Connection.tenant_id == tenant.id)
            )
            if connection is None:
                raise NotFoundException("No such connection.")
            choice = await resolve_template(session, partner_id, connection.template_key)
            spec = default_recipe(choice.template.key, domain, direction)
            if spec is None:
                raise NotFoundException("The template ships no such recipe.")
            try:
                await save_recipe_version(
                    session,
                    tenant_id=tenant.id,
                    name=f"{connection.name} {domain} {direction}",
                    domain=domain,
                    spec=spec,
                    template_key=choice.template.key,
                    created_by=f"user:{portal_user.user.id}",
                )
            except RecipeRejectedError:
                raise NotFoundException("The default recipe does not fit this domain.") from None
        return Redirect(f"/partner/onboarding/{tenant_id}/recipes", status_code=303)

    # -- flows ------------------------------------------------------------------------------------

    @post("/{tenant_id:uuid}/add-flow", operation_id="PortalOnboardingFlow", status_code=303)
    async def add_flow(
        self, request: Request[Any, Any, Any], brand: Brand, portal_user: PortalUser, tenant_id: uuid.UUID
    ) -> Redirect | Template:
        """A flow from a recipe per destination; it stays off until the retailer goes live."""
        partner_id = _partner_of(portal_user)
        form = await _form(request)
        name, domain = str(form.get("name", "")).strip(), str(form.get("domain", ""))
        picked = [str(v) for v in form.getall("destination", [])]
        errors: dict[str, str] = {}
        destinations = []
        for value in picked:
            connection_id, _, recipe_id = value.partition(":")
            try:
                destinations.append(DestinationSpec(uuid.UUID(connection_id), uuid.UUID(recipe_id)))
            except ValueError:
                errors["destinations"] = "Pick destinations from the list."
        if not errors:
            try:
                async with services_of(request).db.transaction(portal_user.db_scope()) as session:
                    tenant = await self._tenant(session, partner_id, tenant_id)
                    flow = await create_flow(
                        session,
                        tenant_id=tenant.id,
                        partner_id=partner_id,
                        name=name or f"{domain} flow",
                        domain=domain,
                        trigger="event",
                        settings=None,
                        destinations=destinations,
                        now=services_of(request).clock.now(),
                    )
                    flow.is_enabled = False
                return Redirect(f"/partner/onboarding/{tenant_id}/flows", status_code=303)
            except FlowRejectedError as rejected:
                errors = {path.split(".")[0].split("[")[0]: reason for path, reason in rejected.problems}
        return await self._page(request, brand, portal_user, tenant_id, "flows", 422, errors=errors)

    # -- go live ----------------------------------------------------------------------------------

    @post("/{tenant_id:uuid}/go-live", operation_id="PortalOnboardingGoLive", status_code=303)
    async def go_live(
        self, request: Request[Any, Any, Any], portal_user: PortalUser, tenant_id: uuid.UUID
    ) -> Redirect:
        """Switch every flow of the retailer on (audited)."""
        partner_id = _partner_of(portal_user)
        async with services_of(request).db.transaction(portal_user.db_scope()) as session:
            tenant = await self._tenant(session, partner_id, tenant_id)
            switched = (
                (
                    await session.execute(
                        update(Flow)
                        .where(Flow.tenant_id == tenant.id, Flow.is_enabled.is_(False))
                        .values(is_enabled=True)
                        .returning(Flow.name)
                    )
                )
                .scalars()
                .all()
            )
            await record_audit(
                session,
                request_actor(request, "user", portal_user.user.id),
                action="tenant.went_live",
                target_type="tenant",
                target_id=tenant.id,
                tenant_id=tenant.id,
                changes={"flows_enabled": sorted(switched)},
            )
        return Redirect(f"/partner/onboarding/{tenant_id}/live", status_code=303)
