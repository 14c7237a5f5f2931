"""arq jobs of delivery: deliver one destination's due work, wake destinations named by an outbox
row (urgent stock), and a once-a-second sweep for work whose batch window or effective time has come."""

from __future__ import annotations

import contextlib
import time
import uuid
from typing import Any

import structlog
from arq import ArqRedis
from redis.exceptions import LockNotOwnedError, RedisError

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


def delivering_key(destination_id: str) -> str:
    return f"shelfsync:delivering:{destination_id}"


async def deliver_destination(ctx: dict[str, Any], destination_id: str) -> str:
    """Deliver one destination's due work, if no other job (on any worker) is doing so already.

    One job a destination at a time: jobs started each second for a big queue would otherwise claim
    beside each other, each sorting and locking the same head of the queue, in ever smaller batches.
    The running job claims urgent rows first at its next batch, so a wake that finds it busy loses
    nothing. The lock lives as long as a lease and is renewed before each batch: a killed worker's lock
    lapses when its batch's lease does, and the next job takes over."""
    lease_seconds = ctx["settings"].delivery_lease_seconds
    lock = ctx["redis"].lock(delivering_key(destination_id), timeout=lease_seconds, blocking=False)
    if not await lock.acquire():
        return "busy: another job is delivering this destination"
    try:
        report = await deliverer(ctx).deliver_due(uuid.UUID(destination_id), before_batch=lock.reacquire)
    except LockNotOwnedError:
        return "lock lost: a batch outlasted its lease; the next job goes on"
    finally:
        with contextlib.suppress(RedisError):  # not ours any more, or Redis away: it lapses by itself
            await lock.release()
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
