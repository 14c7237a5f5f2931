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
from datetime import UTC, datetime

from sqlalchemy import DateTime, Uuid, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.connections.models import Connection
from app.metering.models import UsageEvent, UsageTotal

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
        .on_conflict_do_nothing(
            index_elements=[UsageEvent.tenant_id, UsageEvent.idempotency_key, UsageEvent.occurred_at]
        )
    )


API_CALL_SHARDS = 16
"""Rows a retailer's API calls of one minute are spread over. One row would be a hot spot: every request
of a busy key would wait for the previous one's row lock until it commits (at 500 requests/s the queue
grew to a minute). Usage sums the rows, so the shards never show."""


_COUNT_API_CALL = text(
    "INSERT INTO usage_events (tenant_id, kind, quantity, idempotency_key, occurred_at)"
    " VALUES (:tenant_id, 'api_calls', 1, :key, :minute)"
    " ON CONFLICT (tenant_id, idempotency_key, occurred_at)"
    " DO UPDATE SET quantity = usage_events.quantity + 1"
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
        .on_conflict_do_nothing(
            index_elements=[UsageEvent.tenant_id, UsageEvent.idempotency_key, UsageEvent.occurred_at]
        )
    )


async def usage_between(
    session: AsyncSession, tenant_id: uuid.UUID, start: datetime, end: datetime
) -> dict[str, int]:
    """Each kind's figure for [start, end): sums for the sum kinds, the largest connection count in
    force for the gauge; every kind present (0 when unused). Months whose events retention has rolled
    into ``usage_totals`` count with the range holding their first day (ranges are billing months)."""
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
    rolled = await rolled_up_between(session, tenant_id, start, end)
    for kind in SUM_KINDS:
        totals[kind] += rolled.get(kind, 0)
    totals[GAUGE_KIND] = max(
        await connections_peak(session, tenant_id, start, end), rolled.get(GAUGE_KIND, 0)
    )
    return totals


def periods_starting_between(start: datetime, end: datetime) -> list[str]:
    """The months (``YYYY-MM``, UTC) whose first instant lies in [start, end)."""
    utc_start, utc_end = start.astimezone(UTC), end.astimezone(UTC)
    index = utc_start.year * 12 + utc_start.month - 1
    if utc_start != datetime(utc_start.year, utc_start.month, 1, tzinfo=UTC):
        index += 1
    periods: list[str] = []
    while datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC) < utc_end:
        periods.append(f"{index // 12:04d}-{index % 12 + 1:02d}")
        index += 1
    return periods


async def rolled_up_between(
    session: AsyncSession, tenant_id: uuid.UUID, start: datetime, end: datetime
) -> dict[str, int]:
    """What retention rolled up for the months starting in [start, end): summed for the sum kinds, the
    largest for the gauge."""
    periods = periods_starting_between(start, end)
    if not periods:
        return {}
    rows = await session.execute(
        select(UsageTotal.kind, func.sum(UsageTotal.quantity), func.max(UsageTotal.quantity))
        .where(UsageTotal.tenant_id == tenant_id, UsageTotal.period.in_(periods))
        .group_by(UsageTotal.kind)
    )
    return {kind: int(peak if kind == GAUGE_KIND else total) for kind, total, peak in rows.all()}


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
