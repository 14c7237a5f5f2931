"""Recording usage inside the transaction of the work it counts (so a rolled-back or crashed piece of
work counts nothing, and work done counts once: a key seen before is ignored), and summing it."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.metering.models import UsageEvent

KINDS = ("records_synced", "events_accepted", "delivery_runs")


async def meter(
    session: AsyncSession, tenant_id: uuid.UUID, kind: str, quantity: int, key: str, at: datetime
) -> None:
    """Count ``quantity`` of ``kind`` once per ``key`` (nothing for a zero quantity)."""
    assert kind in KINDS, kind
    if quantity <= 0:
        return
    await session.execute(
        insert(UsageEvent)
        .values(tenant_id=tenant_id, kind=kind, quantity=quantity, idempotency_key=key, occurred_at=at)
        .on_conflict_do_nothing(index_elements=[UsageEvent.tenant_id, UsageEvent.idempotency_key])
    )


async def usage_between(
    session: AsyncSession, tenant_id: uuid.UUID, start: datetime, end: datetime
) -> dict[str, int]:
    """Each kind's total in [start, end), every kind present (0 when unused)."""
    rows = await session.execute(
        select(UsageEvent.kind, func.sum(UsageEvent.quantity))
        .where(
            UsageEvent.tenant_id == tenant_id, UsageEvent.occurred_at >= start, UsageEvent.occurred_at < end
        )
        .group_by(UsageEvent.kind)
    )
    totals = dict.fromkeys(KINDS, 0)
    totals.update({kind: int(total) for kind, total in rows.all()})
    return totals
