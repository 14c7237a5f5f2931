"""arq jobs of delivery: deliver one destination's due work, wake destinations named by an outbox
row (urgent stock), and a once-a-second sweep for work whose batch window or effective time has come."""

from __future__ import annotations

import contextlib
import time
import uuid
from typing import Any

import structlog
from redis.exceptions import LockNotOwnedError, RedisError

from app.database.scope import DbScope
from app.delivery.service import Deliverer, DueDestination, due_destinations, still_due
from app.dispatch.fair_queue import FairJob, Lane, lane_of, others_waiting
from app.dispatch.slots import fair_queue_of
from app.outbox.service import claim_work
from app.plans.service import concurrency_of

log = structlog.get_logger(__name__)

DELIVER_TASK = "deliver_destination"


def per_second_job_id(kind: str, subject: str, now: float) -> str:
    """At most one job of ``kind`` per subject per second: more would only fight over the same rows
    (leases keep that safe, but wasteful). The second in the id matters: a job whose worker was killed
    keeps its id busy in arq until its timeout, and must not block the next second's job."""
    return f"{kind}:{subject}:{int(now)}"


def deliver_job_id(destination_id: str, now: float) -> str:
    return per_second_job_id("deliver", destination_id, now)


def deliver_pending_id(destination_id: str, lane: Lane) -> str:
    """A destination's delivery waits in the fair queue once per lane."""
    return f"deliver:{destination_id}:{lane}"


async def wake(
    ctx: dict[str, Any], destinations: list[DueDestination], caps: dict[uuid.UUID, int] | None = None
) -> None:
    """Queue a delivery job for each destination in the fair queue, in the lane of its most pressing
    work (one waiting job per destination and lane), and hand out whatever's turn it is. ``caps`` (the
    tenants' concurrency, from their plans) is refreshed by the sweep; a nudge keeps the stored one."""
    if not destinations:
        return
    caps = caps or {}
    queue = fair_queue_of(ctx)
    now = time.time()
    for due in destinations:
        lane = lane_of(due.is_urgent)
        destination_id = str(due.destination_id)
        await queue.submit(
            FairJob(
                tenant_id=str(due.tenant_id),
                lane=lane,
                task=DELIVER_TASK,
                args=[destination_id, str(due.tenant_id), lane],
                pending_id=deliver_pending_id(destination_id, lane),
                job_id=deliver_job_id(destination_id, now),
            ),
            caps.get(due.tenant_id),
        )
    await queue.hand_out()


def deliverer(ctx: dict[str, Any]) -> Deliverer:
    return Deliverer(ctx["settings"], ctx["db"], ctx["redis"], ctx["clock"].now)


def delivering_key(destination_id: str) -> str:
    return f"shelfsync:delivering:{destination_id}"


async def deliver_destination(
    ctx: dict[str, Any], destination_id: str, tenant_id: str | None = None, lane: Lane | None = None
) -> str:
    """Deliver one destination's due work, if no other job (on any worker) is doing so already.

    One job a destination at a time: jobs started each second for a big queue would otherwise claim
    beside each other, each sorting and locking the same head of the queue, in ever smaller batches.
    The running job claims urgent rows first at its next batch, so a wake that finds it busy loses
    nothing. The lock lives as long as a lease and is renewed before each batch: a killed worker's lock
    lapses when its batch's lease does, and the next job takes over.

    Handed out by the fair queue (``tenant_id`` and ``lane`` given), the job yields its slot between
    batches when more of its tenant's work waits in its lane (another destination), and the destination
    queues again behind it: a tenant's destinations take turns instead of one holding the slot for the
    whole time budget."""
    lease_seconds = ctx["settings"].delivery_lease_seconds
    lock = ctx["redis"].lock(delivering_key(destination_id), timeout=lease_seconds, blocking=False)
    if not await lock.acquire():
        return "busy: another job is delivering this destination"
    try:
        others_wait = None
        if tenant_id is not None and lane is not None:
            redis, tenant, waiting_lane = ctx["redis"], tenant_id, lane
            own = deliver_pending_id(destination_id, lane)

            async def others_wait() -> bool:
                return await others_waiting(redis, waiting_lane, tenant, own)

        report = await deliverer(ctx).deliver_due(
            uuid.UUID(destination_id), before_batch=lock.reacquire, should_yield=others_wait
        )
    except LockNotOwnedError:
        return "lock lost: a batch outlasted its lease; the next job goes on"
    finally:
        with contextlib.suppress(RedisError):  # not ours any more, or Redis away: it lapses by itself
            await lock.release()
    # Work that came between this job's last (empty) claim and the release was woken while the lock was
    # held, and that wake found the destination busy: look once more, so it does not wait for the sweep.
    left = await still_due(ctx["db"], uuid.UUID(destination_id), ctx["clock"].now())
    if left is not None:
        await wake(ctx, [left])
    return f"delivered {report.delivered}, retried {report.retried}, dead-lettered {report.dead_lettered}"


async def nudge_delivery(ctx: dict[str, Any], outbox_id: int) -> str:
    """Outbox job: the destinations in the row have urgent work; start their deliveries now."""
    async with ctx["db"].transaction(DbScope.system()) as session:
        message = await claim_work(session, outbox_id)
        if message is None:
            return "already-processed"
        tenant_id = message.tenant_id
        destinations = [
            DueDestination(uuid.UUID(d), tenant_id, is_urgent=True)
            for d in message.payload.get("destinations", [])
            if tenant_id is not None
        ]
    await wake(ctx, destinations)
    return f"woke {len(destinations)}"


async def dispatch_due(ctx: dict[str, Any]) -> str:
    """Cron, every second: start deliveries for destinations whose queued work has come due."""
    due = await due_destinations(ctx["db"], ctx["clock"].now())
    if due:
        async with ctx["db"].transaction(DbScope.system()) as session:
            caps = await concurrency_of(session, {d.tenant_id for d in due})
        await wake(ctx, due, caps)  # which hands out
    else:
        await fair_queue_of(ctx).hand_out()  # for slots that lapsed with a killed worker
    return f"woke {len(due)}"
