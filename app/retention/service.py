"""Applying retention: each retailer's rows older than its plan's ``retention_days`` are deleted, then
whole monthly partitions older than the longest retention of any retailer are detached and dropped.

Partitions are shared by every tenant, so a month can only go when no tenant keeps it; a tenant on a
shorter retention loses its older rows by a DELETE of its own (which touches only the old partitions).
Usage events are rolled up into ``usage_totals`` before they go (``app.metering.rollup``); issued
invoices live in their own table and are never touched. Ingress dedup keys go with their events, so an
event is recognised as a duplicate within the retention window only.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import msgspec
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.database import partitions
from app.database.engine import Database
from app.database.scope import DbScope
from app.flows.models import Run
from app.ingress.models import IngressEvent, IngressEventKey
from app.inventory.models import StockMovementEntry
from app.metering.rollup import retire_usage
from app.plans.models import Plan
from app.plans.terms import DEFAULT_TERMS, PlanTerms
from tenants.models import Tenant

HISTORY = (
    (IngressEvent, IngressEvent.received_at),
    (IngressEventKey, IngressEventKey.received_at),
    (StockMovementEntry, StockMovementEntry.occurred_at),
    (Run, Run.started_at),
)
"""The tables a tenant's old rows are deleted from (besides usage events, rolled up first), by the time
column each is kept by."""


@dataclass
class RetentionOutcome:
    deleted: dict[str, int] = field(default_factory=dict)
    """Rows deleted per table by the tenants' own retention."""
    dropped: list[str] = field(default_factory=list)
    """Partitions detached and dropped."""
    kept_from: datetime | None = None
    """Rows from this moment on are kept for every tenant (now − the longest retention)."""


async def retention_days_by_tenant(session: AsyncSession) -> dict[uuid.UUID, int]:
    """Every tenant's retention in days: its plan's terms at its partner, else the default terms'."""
    plans = {
        (partner_id, key): msgspec.convert(terms, PlanTerms).retention_days
        for partner_id, key, terms in await session.execute(select(Plan.partner_id, Plan.key, Plan.terms))
    }
    tenants = await session.execute(select(Tenant.id, Tenant.partner_id, Tenant.plan))
    return {
        tenant_id: plans.get((partner_id, plan), DEFAULT_TERMS.retention_days)
        for tenant_id, partner_id, plan in tenants
    }


async def delete_tenant_history(
    session: AsyncSession, tenant_id: uuid.UUID, cutoff: datetime
) -> dict[str, int]:
    """Delete the tenant's rows older than ``cutoff`` (usage rolled up first); rows deleted per table."""
    deleted = {"usage_events": await retire_usage(session, cutoff, tenant_id)}
    for model, column in HISTORY:
        result = await session.execute(delete(model).where(model.tenant_id == tenant_id, column < cutoff))
        deleted[model.__tablename__] = int(result.rowcount or 0)  # type: ignore[attr-defined]
    return deleted


async def apply_retention(db: Database, now: datetime) -> RetentionOutcome:
    """Each tenant's history beyond its retention deleted (one transaction per tenant), then the
    partitions wholly older than the longest retention dropped."""
    outcome = RetentionOutcome()
    async with db.transaction(DbScope.system()) as session:
        days = await retention_days_by_tenant(session)
    for tenant_id, kept in sorted(days.items()):
        async with db.transaction(DbScope.system()) as session:
            deleted = await delete_tenant_history(session, tenant_id, now - timedelta(days=kept))
        for table, count in deleted.items():
            outcome.deleted[table] = outcome.deleted.get(table, 0) + count
    longest = max(days.values(), default=DEFAULT_TERMS.retention_days)
    outcome.kept_from = kept_from = now - timedelta(days=longest)
    async with db.transaction(DbScope.system()) as session:
        # nothing of a tenant is left there after the deletes above; rows of tenants gone since are
        # rolled up all the same before their months are dropped
        await retire_usage(session, partitions.month_start(kept_from))
        await session.execute(delete(IngressEventKey).where(IngressEventKey.received_at < kept_from))
        for table in partitions.PARTITIONED:
            outcome.dropped += await partitions.drop_partitions_before(session, table, kept_from)
    return outcome
