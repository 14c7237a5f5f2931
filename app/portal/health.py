"""Portal pages on sync health: a partner's retailers with a badge each, and a retailer's flows with
their figures over the last hour (refreshed in place by htmx; readable without JavaScript)."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get
from litestar.di import Provide
from litestar.response import Template
from sqlalchemy import select

from app.flows.health import WINDOW, flow_health, tenant_badges, worst
from app.http.pagination import keyset_page
from app.http.state import services_of
from app.plans.quotas import warnings
from app.portal.context import PortalUser, partner_of, provide_brand, provide_portal_user, retailer_of
from tenants.branding import Brand
from tenants.models import Tenant

PAGE_SIZE = 50


def _tenant_of(portal_user: PortalUser) -> uuid.UUID:
    return retailer_of(portal_user, "Sync health pages")


class PortalHealthController(Controller):
    include_in_schema = False
    dependencies = {"brand": Provide(provide_brand), "portal_user": Provide(provide_portal_user)}

    async def _flows(self, request: Request[Any, Any, Any], portal_user: PortalUser) -> dict[str, Any]:
        tenant_id = _tenant_of(portal_user)
        services = services_of(request)
        now = services.clock.now()
        async with services.db.transaction(portal_user.db_scope()) as session:
            flows = await flow_health(session, [tenant_id], now)
        return {"flows": flows, "overall": worst(f.status for f in flows), "now": now, "window": WINDOW}

    @get("/health", operation_id="PortalHealth")
    async def health(
        self, request: Request[Any, Any, Any], brand: Brand, portal_user: PortalUser
    ) -> Template:
        """The retailer's flows: runs, records delivered and failed, batch times, backlog, dead letters;
        a banner for quotas past their soft limit."""
        services = services_of(request)
        async with services.db.transaction(portal_user.db_scope()) as session:
            quota_warnings = await warnings(
                session, services.redis, _tenant_of(portal_user), services.clock.now()
            )
        context = {
            "brand": brand,
            "me": portal_user,
            "quota_warnings": quota_warnings,
            **await self._flows(request, portal_user),
        }
        return Template("health.html", context=context)

    @get("/health/flows", operation_id="PortalHealthRows")
    async def rows(self, request: Request[Any, Any, Any], portal_user: PortalUser) -> Template:
        """The flow table alone, for htmx's polling."""
        return Template("partials/flow_rows.html", context=await self._flows(request, portal_user))

    @get("/partner/retailers", operation_id="PortalPartnerRetailers")
    async def retailers(
        self,
        request: Request[Any, Any, Any],
        brand: Brand,
        portal_user: PortalUser,
        cursor: str | None = None,
    ) -> Template:
        """The partner's retailers with a health badge each (from the last hour's runs and dead letters)."""
        partner_id = partner_of(portal_user, "The retailer list")
        services = services_of(request)
        async with services.db.transaction(portal_user.db_scope()) as session:
            page = await keyset_page(
                session,
                select(Tenant).where(Tenant.partner_id == partner_id),
                (Tenant.name, Tenant.id),
                PAGE_SIZE,
                cursor,
                lambda tenant: tenant,
            )
            tenants = page.items
            badges = await tenant_badges(session, [t.id for t in tenants], services.clock.now())
        context = {
            "brand": brand,
            "me": portal_user,
            "tenants": tenants,
            "badges": badges,
            "next_cursor": page.next_cursor,
        }
        return Template("retailers.html", context=context)
