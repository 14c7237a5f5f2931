"""The monthly close: every active retailer's last period is invoiced once (re-runs change nothing)."""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy import select

from app.database.engine import Database
from app.database.scope import DbScope
from app.invoicing.service import issue_invoice
from app.metering.periods import period_at
from tenants.models import Tenant

log = structlog.get_logger(__name__)


async def issue_invoices(ctx: dict[str, Any]) -> int:
    """Invoice the period that closed last for each active retailer; returns how many were issued."""
    db: Database = ctx["db"]
    now = ctx["clock"].now()
    closed = period_at(now).previous()
    async with db.transaction(DbScope.system()) as session:
        tenants = list(await session.scalars(select(Tenant).where(Tenant.status == "active")))
    issued = 0
    for tenant in tenants:
        async with db.transaction(DbScope.for_tenant(tenant.id, tenant.partner_id)) as session:
            issued += await issue_invoice(session, tenant, closed, now)
    if issued:
        log.info("invoices.issued", period=closed.key, count=issued)
    return issued
