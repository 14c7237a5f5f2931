"""Putting changes in front of destinations: one queued row per entity per destination, coalesced.

A newer value for the same entity replaces the queued payload (the destination only ever needs the
latest), keeps the earlier due time, and bumps the revision so an in-flight delivery of the older value
does not remove it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.delivery.models import QueuedDelivery
from app.flows.models import Flow, FlowDestination
from app.outbox.service import record_work


@dataclass(frozen=True, slots=True)
class Change:
    entity_key: str
    record_type: str
    payload: dict[str, Any]
    due_at: datetime
    is_urgent: bool = False
    correlation_id: str | None = None


NUDGE_TASK = "nudge_delivery"


async def nudge(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    destination_ids: Sequence[uuid.UUID],
    correlation_id: str | None,
) -> None:
    """Start these destinations' deliveries now (urgent work), through the outbox: the wake-up is
    committed with the work, and the once-a-second sweep is the fallback if Redis is away."""
    if destination_ids:
        await record_work(
            session,
            NUDGE_TASK,
            {"destinations": sorted({str(d) for d in destination_ids})},
            tenant_id=tenant_id,
            correlation_id=correlation_id,
            lane="urgent",
        )


async def enqueue(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    destination_id: uuid.UUID,
    changes: Sequence[Change],
    now: datetime,
) -> None:
    """Queue ``changes`` for one destination: many rows per statement, in entity order (so concurrent
    batches cannot deadlock), the last change per entity winning."""
    latest = {change.entity_key: change for change in changes}
    if not latest:
        return
    table = QueuedDelivery.__table__.c
    statement = insert(QueuedDelivery.__table__)  # type: ignore[arg-type]
    # executemany of a one-row INSERT: compiled once, sent in multi-row pages (see app.database.upsert).
    # RETURNING is what makes SQLAlchemy page it on asyncpg; without it the driver's own executemany runs
    # every row as its own statement, and a full run's 250,000 rows outlast the command timeout.
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[table.destination_id, table.entity_key],
            set_={
                "payload": statement.excluded.payload,
                "record_type": statement.excluded.record_type,
                "revision": table.revision + 1,
                "is_urgent": table.is_urgent | statement.excluded.is_urgent,
                "due_at": func.least(table.due_at, statement.excluded.due_at),
                "correlation_id": statement.excluded.correlation_id,
            },
        ).returning(table.entity_key),
        [
            {
                "tenant_id": tenant_id,
                "destination_id": destination_id,
                "entity_key": change.entity_key,
                "record_type": change.record_type,
                "payload": change.payload,
                "is_urgent": change.is_urgent,
                "due_at": change.due_at,
                "received_at": now,
                "correlation_id": change.correlation_id,
            }
            for change in (latest[key] for key in sorted(latest))
        ],
    )


async def destinations_of(
    session: AsyncSession, tenant_id: uuid.UUID, domain: str, flow_id: uuid.UUID | None = None
) -> list[tuple[Flow, FlowDestination]]:
    """Enabled flows of ``domain`` and their destinations: the flows fed by the API (no source
    connection), or only ``flow_id`` for records pulled or pushed through that flow's source."""
    query = (
        select(Flow, FlowDestination)
        .join(FlowDestination, FlowDestination.flow_id == Flow.id)
        .where(Flow.tenant_id == tenant_id, Flow.domain == domain, Flow.is_enabled.is_(True))
        .order_by(Flow.id, FlowDestination.position)
    )
    query = query.where(Flow.id == flow_id) if flow_id else query.where(Flow.source_connection_id.is_(None))
    return [(flow, destination) for flow, destination in (await session.execute(query)).all()]
