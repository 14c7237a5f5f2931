"""Recording work: called inside the transaction that makes the change the work belongs to."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.logging import bind_work
from app.outbox.models import OutboxMessage


async def record_work(
    session: AsyncSession,
    task: str,
    payload: dict[str, Any] | None = None,
    *,
    tenant_id: uuid.UUID | None = None,
    correlation_id: str | None = None,
    lane: str = "bulk",
    available_at: datetime | None = None,
) -> OutboxMessage:
    """Add an outbox row to the session's transaction; a worker runs ``task`` after commit."""
    message = OutboxMessage(
        task=task,
        payload=payload or {},
        tenant_id=tenant_id,
        correlation_id=correlation_id,
        lane=lane,
    )
    if available_at is not None:
        message.available_at = available_at
    session.add(message)
    await session.flush()
    return message


async def claim_work(session: AsyncSession, outbox_id: int) -> OutboxMessage | None:
    """Mark the row processed inside the job's transaction; None if it already was.

    The row lock taken here is held until the job commits, so a duplicate run of the same row waits
    and then finds it processed: the work is applied at most once.
    """
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == outbox_id, OutboxMessage.processed_at.is_(None))
        .values(processed_at=func.now(), attempts=OutboxMessage.attempts + 1)
        .returning(OutboxMessage)
    )
    message = result.scalar_one_or_none()
    if message is not None:
        # the job now works for the row's tenant under the correlation id of the change that queued it
        bind_work(tenant_id=message.tenant_id, correlation_id=message.correlation_id)
    return message
