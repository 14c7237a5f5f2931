"""arq jobs of flows: run a queued pull, and once a minute queue the pulls scheduled flows are due for."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

import msgspec
from cronsim import CronSim
from sqlalchemy import select

from app.database.scope import DbScope
from app.flows.metrics import record_run
from app.flows.models import Flow, Run
from app.flows.publish import publish_all
from app.flows.pull import pull, queue_pull
from app.flows.queued_runs import claimed_run_id
from app.flows.reconcile import queue_reconcile, reconcile
from app.flows.service import next_run
from app.flows.settings import FlowSettings
from app.logging import bind_work
from app.outbox.service import claim_work


async def pull_flow(ctx: dict[str, Any], outbox_id: int) -> str:
    """Outbox job: execute the pull run named in the row."""
    run_id = await claimed_run_id(ctx, outbox_id)
    if run_id is None:
        return "already-processed"
    run = await pull(ctx["settings"], ctx["db"], ctx["redis"], run_id, ctx["clock"].now)
    return f"{run.status}: read {run.read_count}, accepted {run.written_count}, failed {run.failed_count}"


async def schedule_pulls(ctx: dict[str, Any]) -> str:
    """Cron, every minute: queue an incremental pull for each scheduled flow whose time has come."""
    now = ctx["clock"].now()
    queued = 0
    async with ctx["db"].transaction(DbScope.system()) as session:
        due = (
            await session.scalars(
                select(Flow)
                .where(Flow.trigger == "schedule", Flow.is_enabled.is_(True), Flow.next_run_at <= now)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for flow in due:
            await queue_pull(
                session, flow, "incremental", now, correlation_id=f"schedule-{uuid.uuid4().hex[:16]}"
            )
            flow.next_run_at = next_run(flow.schedule or "", now)
            queued += 1
    return f"queued {queued}"


async def reconcile_flow(ctx: dict[str, Any], outbox_id: int) -> str:
    """Outbox job: execute the reconcile run named in the row."""
    run_id = await claimed_run_id(ctx, outbox_id)
    if run_id is None:
        return "already-processed"
    run = await reconcile(ctx["settings"], ctx["db"], ctx["redis"], run_id, ctx["clock"].now)
    return f"{run.status}: drifted {run.details.get('drifted', 0)}, corrected {run.written_count}"


async def reconcile_due(ctx: dict[str, Any]) -> str:
    """Cron, every minute: queue a reconcile run for each flow whose ``reconcile_schedule`` fired in the
    minute that just began (the cron job is unique across workers, so each fires once)."""
    now = ctx["clock"].now().replace(second=0, microsecond=0)
    queued = 0
    async with ctx["db"].transaction(DbScope.system()) as session:
        flows = (await session.scalars(select(Flow).where(Flow.is_enabled.is_(True)))).all()
        for flow in flows:
            schedule = msgspec.convert(flow.settings or {}, FlowSettings).reconcile_schedule
            if schedule and next(CronSim(schedule, now - timedelta(seconds=1))) == now:
                await queue_reconcile(session, flow, now, correlation_id=f"reconcile-{uuid.uuid4().hex[:16]}")
                queued += 1
    return f"queued {queued}"


async def publish_flow(ctx: dict[str, Any], outbox_id: int) -> str:
    """Outbox job: execute the queued full run named in the row (queue the whole canonical state)."""
    started = time.perf_counter()
    async with ctx["db"].transaction(DbScope.system()) as session:
        message = await claim_work(session, outbox_id)
        if message is None:
            return "already-processed"
        run = await session.get(Run, uuid.UUID(message.payload["run_id"]))
        assert run is not None
        bind_work(flow_id=run.flow_id, run_id=run.id, correlation_id=run.correlation_id)
        flow = await session.get(Flow, run.flow_id)
        assert flow is not None
        run.status = "running"
        await publish_all(session, flow, run, ctx["clock"].now())
    record_run(flow.domain, run.kind, run.status, time.perf_counter() - started)
    return f"queued {run.read_count} records per destination"
