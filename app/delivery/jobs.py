"""arq jobs of delivery: deliver one destination's due work, wake destinations named by an outbox
row (urgent stock), and a once-a-second sweep for work whose batch window or effective time has come."""

from __future__ import annotations

import time
import uuid
from typing import Any

import structlog
from arq import ArqRedis

from app.database.scope import DbScope
from app.delivery.service import Deliverer, due_destinations
from app.outbox.service import claim_work

log = structlog.get_logger(__name__)

DELIVER_TASK = "deliver_destination"


def per_second_job_id(kind: str, subject: str, now: float) -> str:
    """At most one job of ``kind`` per subject per second: more would only fight over the same rows
    (leases keep that safe, but wasteful). The second in the id matters: a job whose worker was killed
    keeps its id busy in arq until its timeout, and must not block the next second's job."""
    return f"{kind}:{subject}:{int(now)}"


def deliver_job_id(destination_id: str, now: float) -> str:
    return per_second_job_id("deliver", destination_id, now)


async def wake(redis: ArqRedis, destination_ids: list[str], queue_name: str) -> None:
    now = time.time()
    for destination_id in destination_ids:
        await redis.enqueue_job(
            DELIVER_TASK, destination_id, _job_id=deliver_job_id(destination_id, now), _queue_name=queue_name
        )


def deliverer(ctx: dict[str, Any]) -> Deliverer:
    return Deliverer(ctx["settings"], ctx["db"], ctx["redis"], ctx["clock"].now)


async def deliver_destination(ctx: dict[str, Any], destination_id: str) -> str:
    report = await deliverer(ctx).deliver_due(uuid.UUID(destination_id))
    return f"delivered {report.delivered}, retried {report.retried}, dead-lettered {report.dead_lettered}"


async def nudge_delivery(ctx: dict[str, Any], outbox_id: int) -> str:
    """Outbox job: the destinations in the row have urgent work; start their deliveries now."""
    async with ctx["db"].transaction(DbScope.system()) as session:
        message = await claim_work(session, outbox_id)
        if message is None:
            return "already-processed"
        destinations = list(message.payload.get("destinations", []))
    await wake(ctx["redis"], destinations, ctx["queue_name"])
    return f"woke {len(destinations)}"


async def dispatch_due(ctx: dict[str, Any]) -> str:
    """Cron, every second: start deliveries for destinations whose queued work has come due."""
    due = await due_destinations(ctx["db"], ctx["clock"].now())
    await wake(ctx["redis"], [str(d) for d in due], ctx["queue_name"])
    return f"woke {len(due)}"
