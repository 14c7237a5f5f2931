"""Recording usage inside the transaction of the work it counts (so a rolled-back or crashed piece of
work counts nothing, and work done counts once: a key seen before is ignored), and summing it.

Two shapes of meter:
- **sums** (records synced, events accepted, delivery runs, API calls): a period's total is the sum
  of its events;
- **the active-connections gauge**: each change of a retailer's connection count is a sample, and a
  period's figure is the largest count in force at any moment of it (the last sample before the period
  counts, since it was in force when the period began).
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime

from sqlalchemy import DateTime, Uuid, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.connections.models import Connection
from app.metering.models import UsageEvent

SUM_KINDS = ("records_synced", "events_accepted", "delivery_runs", "api_calls")
GAUGE_KIND = "active_connections"
KINDS = (*SUM_KINDS, GAUGE_KIND)


async def meter(
    session: AsyncSession, tenant_id: uuid.UUID, kind: str, quantity: int, key: str, at: datetime
) -> None:
    """Count ``quantity`` of ``kind`` once per ``key`` (nothing for a zero quantity)."""
    assert kind in SUM_KINDS, kind
    if quantity <= 0:
        return
    await session.execute(
        insert(UsageEvent)
        .values(tenant_id=tenant_id, kind=kind, quantity=quantity, idempotency_key=key, occurred_at=at)
        .on_conflict_do_nothing(index_elements=[UsageEvent.tenant_id, UsageEvent.idempotency_key])
    )


API_CALL_SHARDS = 16
"""Rows a retailer's API calls of one minute are spread over. One row would be a hot spot: every request
of a busy key would wait for the previous one's row lock until it commits (at 500 requests/s the queue
grew to a minute). Usage sums the rows, so the shards never show."""


_COUNT_API_CALL = text(
    "INSERT INTO usage_events (tenant_id, kind, quantity, idempotency_key, occurred_at)"
    " VALUES (:tenant_id, 'api_calls', 1, :key, :minute)"
    " ON CONFLICT (tenant_id, idempotency_key) DO UPDATE SET quantity = usage_events.quantity + 1"
).bindparams(
    bindparam("tenant_id", type_=Uuid()),
    bindparam("minute", type_=DateTime(timezone=True)),
)
"""Written as SQL once: it runs on every API request, where building the ORM upsert each time cost
more than the round trip."""


async def count_api_call(session: AsyncSession, tenant_id: uuid.UUID, at: datetime) -> None:
    """One API call, added to one of the retailer's rows for that minute (a few rows a minute, not one a
    call, so a busy key does not grow the table by a row per request)."""
    minute = at.replace(second=0, microsecond=0)
    shard = random.randrange(API_CALL_SHARDS)
    await session.execute(
        _COUNT_API_CALL,
        {"tenant_id": tenant_id, "key": f"api-calls:{minute.isoformat()}:{shard}", "minute": minute},
    )


async def sample_connections(session: AsyncSession, tenant_id: uuid.UUID, at: datetime) -> None:
    """Record the retailer's connection count now (call it after a connection is added or removed, in
    the same transaction)."""
    count = await session.scalar(select(func.count()).where(Connection.tenant_id == tenant_id))
    await session.execute(
        insert(UsageEvent)
        .values(
            tenant_id=tenant_id,
            kind=GAUGE_KIND,
            quantity=int(count or 0),
            idempotency_key=f"connections:{at.isoformat()}:{uuid.uuid4().hex[:8]}",
            occurred_at=at,
        )
        .on_conflict_do_nothing(index_elements=[UsageEvent.tenant_id, UsageEvent.idempotency_key])
    )


async def usage_between(
    session: AsyncSession, tenant_id: uuid.UUID, start: datetime, end: datetime
) -> dict[str, int]:
    """Each kind's figure for [start, end): sums for the sum kinds, the largest connection count in
    force for the gauge; every kind present (0 when unused)."""
    rows = await session.execute(
        select(UsageEvent.kind, func.sum(UsageEvent.quantity))
        .where(
            UsageEvent.tenant_id == tenant_id,
            UsageEvent.kind.in_(SUM_KINDS),
            UsageEvent.occurred_at >= start,
            UsageEvent.occurred_at < end,
        )
        .group_by(UsageEvent.kind)
    )
    totals = dict.fromkeys(KINDS, 0)
    totals.update({kind: int(total) for kind, total in rows.all()})
    totals[GAUGE_KIND] = await connections_peak(session, tenant_id, start, end)
    return totals


async def connections_peak(
    session: AsyncSession, tenant_id: uuid.UUID, start: datetime, end: datetime
) -> int:
    gauge = (UsageEvent.tenant_id == tenant_id, UsageEvent.kind == GAUGE_KIND)
    inside = await session.scalar(
        select(func.max(UsageEvent.quantity)).where(
            *gauge, UsageEvent.occurred_at >= start, UsageEvent.occurred_at < end
        )
    )
    carried = await session.scalar(
        select(UsageEvent.quantity)
        .where(*gauge, UsageEvent.occurred_at < start)
        .order_by(UsageEvent.occurred_at.desc(), UsageEvent.id.desc())
        .limit(1)
    )
    return max(int(inside or 0), int(carried or 0))
