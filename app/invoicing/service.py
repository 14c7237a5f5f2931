"""A retailer's statement for a period (usage, SLA report, priced lines), computed from the facts
while the period runs and frozen as an invoice once it has closed."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.invoicing.models import RetailerInvoice
from app.invoicing.pricing import PricedUsage, price_usage
from app.metering.periods import BillingPeriod
from app.metering.service import usage_between
from app.plans.service import terms_of
from app.plans.terms import PlanTerms
from app.sla.report import SlaReport, sla_report
from tenants.models import Tenant


@dataclass(frozen=True)
class Statement:
    tenant: Tenant
    period: BillingPeriod
    usage: dict[str, int]
    sla: SlaReport
    priced: PricedUsage
    terms: PlanTerms


async def statement_of(
    session: AsyncSession, tenant: Tenant, period: BillingPeriod, now: datetime
) -> Statement:
    terms = await terms_of(session, tenant)
    usage = await usage_between(session, tenant.id, period.starts_at, period.ends_at)
    report = await sla_report(session, tenant.id, tenant.name, tenant.plan, terms, period, now)
    return Statement(
        tenant, period, usage, report, price_usage(terms.rate_card, usage, report.credit_percent), terms
    )


def _plain(value: Any) -> Any:
    """JSON-ready: Decimals as strings (exact), dataclasses as dicts."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "is_finite"):  # Decimal
        return str(value)
    return value


async def issue_invoice(session: AsyncSession, tenant: Tenant, period: BillingPeriod, now: datetime) -> bool:
    """Freeze the closed period's statement as the retailer's invoice, once (False when it already was)."""
    assert now >= period.ends_at, "only a closed period is invoiced"
    statement = await statement_of(session, tenant, period, now)
    priced = statement.priced
    inserted = await session.scalar(
        insert(RetailerInvoice)
        .values(
            tenant_id=tenant.id,
            period=period.key,
            plan=tenant.plan,
            currency=priced.currency,
            subtotal=priced.subtotal,
            credit=priced.credit,
            total=priced.total,
            lines=_plain(priced.lines),
            usage=statement.usage,
            sla=_plain(statement.sla.objectives),
            issued_at=now,
        )
        .on_conflict_do_nothing(index_elements=[RetailerInvoice.tenant_id, RetailerInvoice.period])
        .returning(RetailerInvoice.id)
    )
    return inserted is not None


async def invoices_of(session: AsyncSession, tenant_id: uuid.UUID) -> list[RetailerInvoice]:
    return list(
        await session.scalars(
            select(RetailerInvoice)
            .where(RetailerInvoice.tenant_id == tenant_id)
            .order_by(RetailerInvoice.period.desc())
        )
    )
