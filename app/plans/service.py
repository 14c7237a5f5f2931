"""Reading and saving plans, and the terms a retailer is on."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.plans.models import Plan
from app.plans.terms import DEFAULT_TERMS, PlanTerms, Quotas
from tenants.models import Tenant

DEFAULT_KEY = "standard"


async def terms_of(session: AsyncSession, tenant: Tenant) -> PlanTerms:
    """The terms of the retailer's plan at its partner (the defaults when the partner has not set them)."""
    row = await session.scalar(
        select(Plan).where(Plan.partner_id == tenant.partner_id, Plan.key == tenant.plan)
    )
    return DEFAULT_TERMS if row is None else msgspec.convert(row.terms, PlanTerms)


_TENANTS_PLAN = (Plan.partner_id == Tenant.partner_id) & (Plan.key == Tenant.plan)
"""A retailer's plan row: its partner's plan of the retailer's key (absent: the default terms)."""


async def quotas_of(session: AsyncSession, tenant_id: uuid.UUID) -> Quotas:
    """The quotas of the retailer's plan, in one query (it runs on every API request)."""
    raw = await session.scalar(
        select(Plan.terms["quotas"]).join(Tenant, _TENANTS_PLAN).where(Tenant.id == tenant_id)
    )
    return DEFAULT_TERMS.quotas if raw is None else msgspec.convert(raw, Quotas)


async def concurrency_of(session: AsyncSession, tenant_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Each retailer's concurrency cap (its plan's ``quotas.concurrency``), in one query."""
    wanted = set(tenant_ids)
    if not wanted:
        return {}
    rows = await session.execute(
        select(Tenant.id, Plan.terms["quotas"]["concurrency"].as_integer())
        .outerjoin(Plan, _TENANTS_PLAN)
        .where(Tenant.id.in_(wanted))
    )
    default = DEFAULT_TERMS.quotas.concurrency
    return {tenant_id: int(cap or default) for tenant_id, cap in rows.all()}


async def partner_plans(session: AsyncSession, partner_id: uuid.UUID) -> dict[str, PlanTerms]:
    """Every plan of the partner by key, with ``standard`` always present."""
    plans = {DEFAULT_KEY: DEFAULT_TERMS}
    for row in await session.scalars(select(Plan).where(Plan.partner_id == partner_id).order_by(Plan.key)):
        plans[row.key] = msgspec.convert(row.terms, PlanTerms)
    return plans


async def save_plan(
    session: AsyncSession, partner_id: uuid.UUID, key: str, terms: PlanTerms, now: datetime
) -> tuple[dict[str, object] | None, dict[str, object]]:
    """Create or replace the plan; returns its terms before and after (for the audit)."""
    row = await session.scalar(
        select(Plan).where(Plan.partner_id == partner_id, Plan.key == key).with_for_update()
    )
    after: dict[str, object] = msgspec.to_builtins(terms)
    if row is None:
        session.add(Plan(partner_id=partner_id, key=key, terms=after, updated_at=now))
        await session.flush()
        return None, after
    before = dict(row.terms)
    row.terms, row.updated_at = after, now
    await session.flush()
    return before, after
