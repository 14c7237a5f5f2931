"""``GET /api/v1/tenant``: the key's tenant, its partner and plan."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec
from litestar import Controller, get
from litestar.di import Provide
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.auth import provide_principal, provide_tenant_session, requires_scope
from app.http.problems import Problem
from tenants.api_keys import ApiPrincipal
from tenants.models import Partner, Tenant


class PartnerSummary(msgspec.Struct):
    id: uuid.UUID
    slug: str
    name: str


class TenantView(msgspec.Struct):
    id: uuid.UUID
    slug: str
    name: str
    plan: str
    status: str
    created_at: datetime
    partner: PartnerSummary
    api_key_scopes: list[str]


class TenantController(Controller):
    path = "/tenant"
    tags = ["tenant"]
    dependencies = {
        "session": Provide(provide_tenant_session),
        "principal": Provide(provide_principal),
    }

    @get("/", operation_id="GetTenant", guards=[requires_scope("tenant:read")])
    async def get_tenant(self, session: AsyncSession, principal: ApiPrincipal) -> TenantView:
        """The tenant this API key belongs to, with its partner and plan."""
        row = (
            await session.execute(
                select(Tenant, Partner).join(Partner).where(Tenant.id == principal.tenant_id)
            )
        ).first()
        if row is None:
            raise Problem(404, "The key's tenant no longer exists.")
        tenant, partner = row
        return TenantView(
            id=tenant.id,
            slug=tenant.slug,
            name=tenant.name,
            plan=tenant.plan,
            status=tenant.status,
            created_at=tenant.created_at,
            partner=PartnerSummary(partner.id, partner.slug, partner.name),
            api_key_scopes=sorted(principal.scopes),
        )
