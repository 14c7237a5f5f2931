"""Runs started by a request or a cron and done by a worker: a queued run row and the outbox row that
hands it to a worker, written together; the job claims the outbox row and finds the run."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.database.scope import DbScope
from app.flows.models import Flow, Run
from app.outbox.service import claim_work, record_work


async def queue_run(
    session: AsyncSession, flow: Flow, kind: str, task: str, now: datetime, correlation_id: str | None
) -> Run:
    run = Run.begin(
        tenant_id=flow.tenant_id,
        flow_id=flow.id,
        kind=kind,
        status="queued",
        started_at=now,
        correlation_id=correlation_id,
    )
    session.add(run)
    await session.flush()
    await record_work(
        session, task, {"run_id": str(run.id)}, tenant_id=flow.tenant_id, correlation_id=correlation_id
    )
    return run


async def claimed_run_id(ctx: dict[str, Any], outbox_id: int) -> uuid.UUID | None:
    """The run an outbox row names, once: None if another job already processed the row."""
    async with ctx["db"].transaction(DbScope.system()) as session:
        message = await claim_work(session, outbox_id)
        return None if message is None else uuid.UUID(message.payload["run_id"])
