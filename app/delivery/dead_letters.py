"""Replaying and discarding dead letters: one place for the API and the portal, each change audited."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.delivery.models import DeadLetter, QueuedDelivery
from app.delivery.queue import Change, enqueue, nudge
from tenants.audit import Actor, record_audit


async def replay_dead_letter(
    session: AsyncSession,
    row: DeadLetter,
    actor: Actor,
    now: datetime,
    correlation_id: str | None,
    payload: dict[str, Any] | None = None,
) -> None:
    """Queue the payload (or a fixed ``payload``, already checked) for its destination now, as urgent
    work. A newer value of the same entity already waiting goes instead: replaying the old value would
    undo a newer change."""
    before = row.payload
    sent = before if payload is None else payload
    correlation_id = row.correlation_id or correlation_id
    newer = await session.scalar(
        select(QueuedDelivery).where(
            QueuedDelivery.destination_id == row.destination_id,
            QueuedDelivery.entity_key == row.entity_key,
        )
    )
    if newer is not None and payload is None:
        newer.due_at, newer.is_urgent = now, True
    else:
        await enqueue(
            session,
            row.tenant_id,
            row.destination_id,
            [Change(row.entity_key, row.record_type, sent, now, True, correlation_id)],
            now,
        )
    await nudge(session, row.tenant_id, [row.destination_id], correlation_id)
    changes: dict[str, Any] = {"status": {"before": row.status, "after": "replayed"}}
    if payload is not None:
        changes["payload"] = {"before": before, "after": sent}
    row.payload, row.status, row.resolved_at = sent, "replayed", now
    await _audit(session, actor, row, "dead_letter.replayed", changes)


async def discard_dead_letter(session: AsyncSession, row: DeadLetter, actor: Actor, now: datetime) -> None:
    """Give up on a dead letter for good."""
    changes = {"status": {"before": row.status, "after": "discarded"}}
    row.status, row.resolved_at = "discarded", now
    await _audit(session, actor, row, "dead_letter.discarded", changes)


async def open_dead_letters(
    session: AsyncSession, tenant_id: uuid.UUID, ids: list[int]
) -> tuple[list[DeadLetter], list[int]]:
    """The tenant's open dead letters among ``ids``, locked (two people cannot both replay one), and the
    ids that are not open (unknown, another tenant's, or already resolved)."""
    rows = list(
        (
            await session.scalars(
                select(DeadLetter)
                .where(DeadLetter.tenant_id == tenant_id, DeadLetter.id.in_(ids), DeadLetter.status == "open")
                .order_by(DeadLetter.id)
                .with_for_update()
            )
        ).all()
    )
    found = {row.id for row in rows}
    return rows, [i for i in ids if i not in found]


async def _audit(
    session: AsyncSession, actor: Actor, row: DeadLetter, action: str, changes: dict[str, Any]
) -> None:
    await record_audit(
        session,
        actor,
        action=action,
        target_type="dead_letter",
        target_id=str(row.id),
        tenant_id=row.tenant_id,
        changes=changes,
    )
