"""The outbox relay: hands recorded work on. Runs inside every worker; rows are locked with ``SKIP LOCKED``
so any number of relays share the table without handing out a row twice. A retailer's work goes to the
fair queue (:mod:`app.dispatch.fair_queue`), in the row's lane, and reaches arq in its turn; the
platform's own work, and the ``direct_tasks`` (nudges), go to arq directly, urgent ones scored ahead."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import timedelta
from typing import Any

import structlog
from arq.connections import ArqRedis
from sqlalchemy import func, or_, select, update

from app.database.engine import Database
from app.database.scope import DbScope
from app.dispatch.fair_queue import JOB_EXPIRES, FairJob, FairQueue, arq_score, lane_of
from app.outbox.models import OutboxMessage
from app.plans.service import concurrency_of

log = structlog.get_logger(__name__)

CHANNEL = "shelfsync_outbox"


def job_id(outbox_id: int) -> str:
    """arq de-duplicates on job id, so relaying a row twice queues it once."""
    return f"outbox:{outbox_id}"


class OutboxRelay:
    """Moves due, unprocessed outbox rows into arq.

    A row handed out more than ``stale_after`` ago and still unprocessed is handed out again: Redis
    may have lost the job (it keeps nothing on disk), and PostgreSQL is the source of truth.
    """

    def __init__(
        self,
        db: Database,
        queue: ArqRedis,
        *,
        queue_name: str,
        batch_size: int = 500,
        stale_after: timedelta = timedelta(minutes=5),
        poll_seconds: float = 1.0,
        direct_tasks: frozenset[str] = frozenset(),
    ) -> None:
        self.db = db
        self.queue = queue
        self.queue_name = queue_name
        self.batch_size = batch_size
        self.stale_after = stale_after
        self.poll_seconds = poll_seconds
        self.direct_tasks = direct_tasks
        """Tasks handed to arq straight away, in their lane, even for a tenant: bookkeeping so small that
        waiting for a turn would cost more than it (a nudge only wakes deliveries, which then take theirs)."""
        self._wake = asyncio.Event()
        self.fair_queue = FairQueue(queue, queue_name)

    async def relay_once(self) -> int:
        """Relay one batch; returns how many rows were handed to arq. Raises if Redis is down
        (nothing is marked then, so the same rows go out on the next call)."""
        async with self.db.transaction(DbScope.system()) as session:
            now = func.now()
            rows = (
                await session.execute(
                    select(OutboxMessage.id, OutboxMessage.task, OutboxMessage.tenant_id, OutboxMessage.lane)
                    .where(
                        OutboxMessage.processed_at.is_(None),
                        OutboxMessage.available_at <= now,
                        or_(
                            OutboxMessage.enqueued_at.is_(None),
                            OutboxMessage.enqueued_at < now - self.stale_after,
                        ),
                    )
                    .order_by(OutboxMessage.id)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            fair = [row for row in rows if row.tenant_id is not None and row.task not in self.direct_tasks]
            # the plans are read only for rows that wait for a turn (a batch of nudges needs none)
            caps = await concurrency_of(session, {row.tenant_id for row in fair}) if fair else {}
            for row in rows:
                lane = lane_of(row.lane == "urgent")
                if row.tenant_id is None or row.task in self.direct_tasks:  # straight to arq
                    await self.queue.enqueue_job(
                        row.task,
                        row.id,
                        _job_id=job_id(row.id),
                        _queue_name=self.queue_name,
                        _defer_until=arq_score(lane, time.time()),
                        _expires=JOB_EXPIRES,
                    )
                else:
                    tenant_work = FairJob(
                        tenant_id=str(row.tenant_id),
                        lane=lane,
                        task=row.task,
                        args=[row.id],
                        pending_id=job_id(row.id),
                        job_id=job_id(row.id),
                    )
                    await self.fair_queue.submit(
                        tenant_work, caps.get(row.tenant_id, self.fair_queue.default_cap)
                    )
            if rows:
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_([row.id for row in rows]))
                    .values(enqueued_at=now)
                )
        if rows:
            await self.fair_queue.hand_out()
        return len(rows)

    async def drain(self) -> int:
        """Relay until nothing due is left; returns the total relayed."""
        total = 0
        while relayed := await self.relay_once():
            total += relayed
        return total

    def _notified(self, *_: Any) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Relay forever: on every NOTIFY from an outbox insert, and at least every ``poll_seconds``."""
        listener = None
        while True:
            try:
                if listener is None:
                    listener = await self.db.engine.connect()
                    raw = await listener.get_raw_connection()
                    await raw.driver_connection.add_listener(CHANNEL, self._notified)  # type: ignore[union-attr]
                self._wake.clear()  # before draining: a NOTIFY that arrives meanwhile wakes the next round
                await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis or PostgreSQL away: keep trying, the rows wait in PostgreSQL
                log.warning("outbox.relay_failed", error=f"{type(exc).__name__}: {exc}")
                if listener is not None:
                    with contextlib.suppress(Exception):
                        await listener.invalidate()
                    listener = None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
