"""The partner's plans page: each plan's terms (SLA objectives and rate card) edited as JSON with every
problem named by its path, and which plan each retailer is on. Changes are audited before and after."""

from __future__ import annotations

import json
import re
import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import Provide
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import Body
from litestar.response import Redirect, Template
from sqlalchemy import select

from app.http.actor import request_actor
from app.http.state import services_of
from app.plans.service import DEFAULT_KEY, partner_plans, save_plan
from app.plans.terms import TermsError, parse_terms
from app.portal.context import PortalUser, partner_of, provide_brand, provide_portal_user
from tenants.audit import record_audit
from tenants.branding import Brand
from tenants.models import Tenant

_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class PlanForm(msgspec.Struct):
    key: str = ""
    terms: str = ""


class AssignForm(msgspec.Struct):
    tenant_id: str = ""
    plan: str = ""


def _partner(portal_user: PortalUser, *, changing: bool = False) -> uuid.UUID:
    partner_id = partner_of(portal_user, "Plans")
    if changing and not portal_user.role.can_manage_users:
        raise PermissionDeniedException("Your role cannot change plans.")
    return partner_id


class PortalPlansController(Controller):
    path = "/partner/plans"
    include_in_schema = False
    dependencies = {"brand": Provide(provide_brand), "portal_user": Provide(provide_portal_user)}

    async def _page(
        self,
        request: Request[Any, Any, Any],
        brand: Brand,
        portal_user: PortalUser,
        key: str,
        text: str | None,
        errors: list[dict[str, str]],
        saved: bool,
        status_code: int = 200,
    ) -> Template:
        partner_id = _partner(portal_user)
        async with services_of(request).db.transaction(portal_user.db_scope()) as session:
            plans = await partner_plans(session, partner_id)
            retailers = list(
                await session.scalars(
                    select(Tenant).where(Tenant.partner_id == partner_id).order_by(Tenant.name)
                )
            )
        shown = plans.get(key) or plans[DEFAULT_KEY]
        context = {
            "brand": brand,
            "me": portal_user,
            "plans": plans,
            "retailers": retailers,
            "key": key,
            "text": text if text is not None else json.dumps(msgspec.to_builtins(shown), indent=2),
            "errors": errors,
            "saved": saved,
        }
        return Template("plans.html", context=context, status_code=status_code)

    @get("/", operation_id="PortalPlans")
    async def page(
        self,
        request: Request[Any, Any, Any],
        brand: Brand,
        portal_user: PortalUser,
        key: str = DEFAULT_KEY,
        saved: bool = False,
    ) -> Template:
        """The partner's plans, one open in the editor, and the retailers with their plan."""
        return await self._page(request, brand, portal_user, key, None, [], saved)

    @post("/", operation_id="PortalSavePlan", status_code=303)
    async def save(
        self,
        request: Request[Any, Any, Any],
        brand: Brand,
        portal_user: PortalUser,
        data: Annotated[PlanForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Redirect | Template:
        """Save a plan's terms when every rule holds; else the editor again with each problem's path."""
        partner_id = _partner(portal_user, changing=True)
        key = data.key.strip()
        errors: list[dict[str, str]] = []
        if not _KEY.match(key):
            errors.append({"path": "key", "reason": "lower-case letters, digits and dashes, up to 63"})
        try:
            terms = parse_terms(json.loads(data.terms))
        except json.JSONDecodeError as exc:
            errors.append({"path": "terms", "reason": f"not JSON: {exc.msg} at line {exc.lineno}"})
        except TermsError as exc:
            errors.extend(exc.errors)
        if errors:
            return await self._page(request, brand, portal_user, key, data.terms, errors, False, 422)
        now = services_of(request).clock.now()
        async with services_of(request).db.transaction(portal_user.db_scope()) as session:
            before, after = await save_plan(session, partner_id, key, terms, now)
            await record_audit(
                session,
                request_actor(request, "user", portal_user.user.id),
                action="plan.saved",
                target_type="plan",
                target_id=key,
                partner_id=partner_id,
                changes={"before": before, "after": after},
            )
        return Redirect(f"/partner/plans?key={key}&saved=true", status_code=303)

    @post("/assign", operation_id="PortalAssignPlan", status_code=303)
    async def assign(
        self,
        request: Request[Any, Any, Any],
        portal_user: PortalUser,
        data: Annotated[AssignForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Redirect:
        """Put a retailer on one of the partner's plans (from its next report and invoice on)."""
        partner_id = _partner(portal_user, changing=True)
        try:
            tenant_id = uuid.UUID(data.tenant_id)
        except ValueError:
            raise NotFoundException("No such retailer.") from None
        async with services_of(request).db.transaction(portal_user.db_scope()) as session:
            plans = await partner_plans(session, partner_id)
            tenant = await session.get(Tenant, tenant_id, with_for_update=True)
            if tenant is None or tenant.partner_id != partner_id or data.plan not in plans:
                raise NotFoundException("No such retailer or plan.")
            before, tenant.plan = tenant.plan, data.plan
            await record_audit(
                session,
                request_actor(request, "user", portal_user.user.id),
                action="tenant.plan_changed",
                target_type="tenant",
                target_id=tenant.id,
                tenant_id=tenant.id,
                partner_id=partner_id,
                changes={"before": {"plan": before}, "after": {"plan": data.plan}},
            )
        return Redirect("/partner/plans?saved=true", status_code=303)
