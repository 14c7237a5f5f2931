"""Delivering queued changes to one destination: claim a batch under a lease, send it through the
destination's recipe and template, then settle each row — done, retried later, or dead-lettered.

Leases make the work safe for any number of workers: a claimed row is invisible to others until its
lease ends, so two workers never send the same batch, and a worker killed mid-batch leaves rows that
become claimable again when the lease runs out.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import msgspec
import structlog
from opentelemetry.trace import SpanKind
from redis.asyncio import Redis
from sqlalchemy import and_, delete, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.connections.models import Connection
from app.connections.runtime import worker_context
from app.connections.service import choice_of, effective_batch_size
from app.crypto import SecretBox
from app.database.engine import Database
from app.database.scope import DbScope
from app.delivery.breaker import CircuitBreaker
from app.delivery.metrics import DESTINATION_CALL, record_settled
from app.delivery.models import DeadLetter, QueuedDelivery
from app.flows.latency import histogram
from app.flows.metrics import record_run
from app.flows.models import Flow, FlowDestination, Run
from app.flows.settings import FlowSettings
from app.logging import bind_work
from app.metering.service import meter
from app.promotions.overlay import Overlay, live_overlay
from app.recipes.service import version_spec
from app.settings import Settings
from app.tracing import span
from connectors.canonical import CanonicalError, parse_record
from connectors.delivery import deliver_batch
from connectors.recipes import InvalidRecipeError, compile_recipe
from connectors.sdk.domains import Domain
from connectors.sdk.errors import ConnectorError, RateLimitError
from connectors.sdk.results import WriteResult
from tenants.models import Tenant

log = structlog.get_logger(__name__)

MAX_BATCH = 500
MAX_BACKOFF_SECONDS = 300
DELIVERY_BUDGET_SECONDS = 20.0
"""How long one delivery job keeps claiming batches of its destination: long enough that a big publish
is not chopped into a job a second, short enough that the job never nears arq's timeout."""
MAX_RETRY_WAIT_SECONDS = 5.0
"""The longest ``Retry-After`` a delivery sleeps through inside a call: a longer one settles the batch
as a retry due then, so the lease (two minutes) and the worker are not held by a sleeping batch."""


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    entity_key: str
    record_type: str
    payload: dict[str, Any]
    revision: int
    attempts: int
    correlation_id: str | None
    received_at: datetime


@dataclass
class DeliveryReport:
    claimed: int = 0
    delivered: int = 0
    skipped: int = 0
    retried: int = 0
    dead_lettered: int = 0
    deferred: int = 0


def backoff_seconds(attempts: int) -> float:
    """Exponential with jitter: about 2, 4, 8 … seconds after each failed attempt, at most 5 minutes."""
    return min(2.0**attempts, MAX_BACKOFF_SECONDS) * random.uniform(0.5, 1.0)


_CLAIM = text(
    """
    UPDATE delivery_queue SET leased_until = :until, lease_token = :token
    WHERE id IN (
        SELECT id FROM delivery_queue
        WHERE destination_id = :destination AND due_at <= :now
          AND (leased_until IS NULL OR leased_until < :now)
        ORDER BY is_urgent DESC, due_at, id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    RETURNING id, entity_key, record_type, payload, revision, attempts, correlation_id, received_at
    """
)


async def claim(
    db: Database, destination_id: uuid.UUID, now: datetime, limit: int, lease_seconds: int
) -> tuple[uuid.UUID, list[Claimed]]:
    token = uuid.uuid4()
    async with db.transaction(DbScope.system()) as session:
        rows = await session.execute(
            _CLAIM,
            {
                "until": now + timedelta(seconds=lease_seconds),
                "token": token,
                "destination": destination_id,
                "now": now,
                "limit": limit,
            },
        )
        return token, [Claimed(*row) for row in rows.all()]


@dataclass(frozen=True)
class Target:
    tenant: Tenant
    flow: Flow
    destination: FlowDestination
    connection: Connection
    settings: FlowSettings


async def load_target(session: AsyncSession, destination_id: uuid.UUID) -> Target | None:
    found = (
        await session.execute(
            select(FlowDestination, Flow, Connection, Tenant)
            .join(Flow, Flow.id == FlowDestination.flow_id)
            .join(Connection, Connection.id == FlowDestination.connection_id)
            .join(Tenant, Tenant.id == FlowDestination.tenant_id)
            .where(FlowDestination.id == destination_id)
        )
    ).first()
    if found is None:
        return None
    destination, flow, connection, tenant = found
    return Target(tenant, flow, destination, connection, msgspec.convert(flow.settings or {}, FlowSettings))


def leased(token: uuid.UUID, ids: list[int]) -> Any:
    """The rows of a lease among ``ids``: found by primary key (``ids`` are the claimed rows), the token
    telling whether the lease is still this batch's."""
    return and_(QueuedDelivery.id.in_(ids), QueuedDelivery.lease_token == token)


async def lock_lease(session: AsyncSession, token: uuid.UUID, ids: list[int]) -> None:
    """Lock a lease's rows in entity order, the order ingest updates them in, so settling a batch and a
    concurrent ingest never wait for each other in a circle (a deadlock)."""
    await session.execute(
        select(QueuedDelivery.id)
        .where(leased(token, ids))
        .order_by(QueuedDelivery.entity_key)
        .with_for_update()
    )


class Deliverer:
    """Everything a delivery needs from the process: settings, database, Redis, a clock."""

    def __init__(self, settings: Settings, db: Database, redis: Redis, now: Any) -> None:
        self.settings, self.db, self.redis, self._now = settings, db, redis, now
        self.box = SecretBox.from_settings(settings)
        self.breaker = CircuitBreaker(redis)

    def now(self) -> datetime:
        value: datetime = self._now()
        return value

    async def deliver_due(
        self,
        destination_id: uuid.UUID,
        *,
        budget_seconds: float = DELIVERY_BUDGET_SECONDS,
        before_batch: Callable[[], Awaitable[Any]] | None = None,
        should_yield: Callable[[], Awaitable[bool]] | None = None,
    ) -> DeliveryReport:
        """Deliver what is due for one destination, batch after batch, until nothing is due, the time
        budget is spent, or ``should_yield`` says other work waits for this job's slot (asked between
        batches; the job then wakes the destination again, behind that work).
        ``before_batch`` runs before each claim (the job renews its lock there)."""
        report = DeliveryReport()
        ends = time.monotonic() + budget_seconds
        while time.monotonic() < ends:
            if report.claimed and should_yield is not None and await should_yield():
                return report
            if before_batch is not None:
                await before_batch()
            async with self.db.transaction(DbScope.system()) as session:
                target = await load_target(session, destination_id)
                if target is None:
                    return report
                destination = target.destination
                spec = await version_spec(session, destination.recipe_id, destination.recipe_version)
                template_class = (
                    await choice_of(session, target.connection, target.tenant.partner_id)
                ).template
                overlay = (
                    await live_overlay(session, destination_id)
                    if target.flow.domain == "prices"
                    else Overlay()
                )
            bind_work(tenant_id=target.tenant.id, flow_id=target.flow.id)
            limit = min(effective_batch_size(target.connection, template_class), MAX_BATCH)
            token, claimed = await claim(
                self.db, destination_id, self.now(), limit, self.settings.delivery_lease_seconds
            )
            if not claimed:
                return report
            report.claimed += len(claimed)
            await self._deliver(target, template_class, spec, token, claimed, report, overlay)
        return report

    async def _deliver(
        self,
        target: Target,
        template_class: Any,
        spec: dict[str, Any],
        token: uuid.UUID,
        claimed: list[Claimed],
        report: DeliveryReport,
        overlay: Overlay,
    ) -> None:
        breaker_key = str(target.connection.id)
        decision = await self.breaker.allow(breaker_key)
        if not decision.is_allowed:
            await self._defer(token, claimed, decision.retry_after)
            report.deferred += len(claimed)
            return
        run = Run.begin(
            tenant_id=target.tenant.id,
            flow_id=target.flow.id,
            destination_id=target.destination.id,
            kind="delivery",
            read_count=len(claimed),
            correlation_id=claimed[0].correlation_id,
            started_at=self.now(),
        )
        run.id = uuid.uuid4()  # known before it is stored: every log line and span of the batch names it
        bind_work(run_id=run.id, correlation_id=run.correlation_id)
        started = time.perf_counter()
        connector = target.connection.template_key
        results: list[WriteResult]
        batch_error: ConnectorError | None = None
        try:
            recipe = compile_recipe(spec)
            # a live promotion prices its SKUs on this destination, whatever regular price arrives
            records = overlay.records([parse_record(c.record_type, c.payload) for c in claimed])
        except (InvalidRecipeError, CanonicalError) as error:
            results = [WriteResult.failed(i, f"cannot prepare: {error}") for i in range(len(claimed))]
        else:
            context = replace(
                worker_context(
                    self.settings,
                    self.db,
                    self.redis,
                    self.box,
                    target.connection,
                    target.tenant,
                    template_class,
                    claimed[0].correlation_id,
                ),
                # a longer Retry-After is waited out on the queue (due_at), not asleep holding the lease
                max_retry_wait=MAX_RETRY_WAIT_SECONDS,
            )
            calling = time.perf_counter()
            try:
                with span(
                    "destination.write",
                    {"shelfsync.connector": connector, "shelfsync.records": len(records)},
                    kind=SpanKind.CLIENT,
                ):
                    async with template_class(context) as template:
                        results = await deliver_batch(template, Domain(target.flow.domain), records, recipe)
            except ConnectorError as error:
                batch_error = error
                results = [WriteResult.failed(i, error.message, retryable=True) for i in range(len(claimed))]
            finally:
                DESTINATION_CALL.labels(connector).observe(time.perf_counter() - calling)
        if batch_error is not None:
            await self.breaker.record_failure(breaker_key)
        else:
            await self.breaker.record_success(breaker_key)
        retry_after = batch_error.retry_after if isinstance(batch_error, RateLimitError) else None
        await self._settle(target, token, claimed, results, run, report, retry_after)
        record_run(target.flow.domain, run.kind, run.status, time.perf_counter() - started)

    async def _defer(self, token: uuid.UUID, claimed: list[Claimed], seconds: float) -> None:
        ids = [c.id for c in claimed]
        async with self.db.transaction(DbScope.system()) as session:
            await lock_lease(session, token, ids)
            await session.execute(
                update(QueuedDelivery)
                .where(leased(token, ids))
                .values(leased_until=None, lease_token=None, due_at=self.now() + timedelta(seconds=seconds))
            )

    async def _settle(
        self,
        target: Target,
        token: uuid.UUID,
        claimed: list[Claimed],
        results: list[WriteResult],
        run: Run,
        report: DeliveryReport,
        retry_after: float | None,
    ) -> None:
        now = self.now()
        errors: list[dict[str, Any]] = []
        done: list[Claimed] = []
        retry: dict[int, list[tuple[Claimed, str | None]]] = {}
        dead: list[tuple[Claimed, str]] = []
        for item, result in zip(claimed, results, strict=True):
            if result.status in ("ok", "skipped"):
                report.delivered += result.status == "ok"
                report.skipped += result.status == "skipped"
                done.append(item)
                continue
            errors.append({"entity": item.entity_key, "error": result.error})
            attempts = item.attempts + 1
            if result.retryable and attempts < target.settings.max_attempts:
                report.retried += 1
                retry.setdefault(attempts, []).append((item, result.error))
            else:
                report.dead_lettered += 1
                dead.append((item, result.error or "failed"))
        ids = [c.id for c in claimed]
        async with self.db.transaction(DbScope.system()) as session:
            await lock_lease(session, token, ids)
            # Delivered or given up: gone, unless a newer value arrived meanwhile (then it stays queued).
            finished = done + [item for item, _ in dead]
            if finished:
                await session.execute(
                    delete(QueuedDelivery).where(
                        leased(token, [i.id for i in finished]),
                        tuple_(QueuedDelivery.id, QueuedDelivery.revision).in_(
                            [(i.id, i.revision) for i in finished]
                        ),
                    )
                )
            for attempts, items in sorted(retry.items()):
                wait = retry_after if retry_after is not None else backoff_seconds(attempts)
                await session.execute(
                    update(QueuedDelivery)
                    .where(leased(token, [i.id for i, _ in items]))
                    .values(attempts=attempts, last_error=items[0][1], due_at=now + timedelta(seconds=wait))
                )
            # Whatever this lease still holds (retries, and rows a newer value replaced) is free again.
            await session.execute(
                update(QueuedDelivery).where(leased(token, ids)).values(leased_until=None, lease_token=None)
            )
            session.add_all(
                DeadLetter(
                    tenant_id=target.tenant.id,
                    destination_id=target.destination.id,
                    entity_key=item.entity_key,
                    record_type=item.record_type,
                    payload=item.payload,
                    error=error,
                    attempts=item.attempts + 1,
                    correlation_id=item.correlation_id,
                )
                for item, error in dead
            )
            run.written_count = sum(r.status == "ok" for r in results)
            run.skipped_count = sum(r.status == "skipped" for r in results)
            run.failed_count = sum(r.status == "failed" for r in results)
            run.status = "succeeded" if not run.failed_count else "partial" if run.written_count else "failed"
            run.errors = errors[:100]
            # the work done is counted in the transaction that settles it: once, and only if it commits
            await meter(
                session, target.tenant.id, "records_synced", run.written_count, f"delivery:{token}", now
            )
            await meter(session, target.tenant.id, "delivery_runs", 1, f"delivery-run:{token}", now)
            # received → acknowledged, for each record the destination took: the latency figure
            run.details = {
                "latency_ms": histogram(
                    (now - item.received_at).total_seconds() * 1000
                    for item, result in zip(claimed, results, strict=True)
                    if result.status == "ok"
                )
            }
            run.finished_at = now
            session.add(run)
        record_settled(
            target.flow.domain,
            target.connection.template_key,
            delivered=run.written_count,
            failed=run.failed_count,
            dead_lettered=len(dead),
        )
        log.info(
            "delivery.batch",
            destination=str(target.destination.id),
            delivered=run.written_count,
            failed=run.failed_count,
            correlation_id=run.correlation_id,
        )


@dataclass(frozen=True, slots=True)
class DueDestination:
    destination_id: uuid.UUID
    tenant_id: uuid.UUID
    is_urgent: bool
    """Whether its most pressing due work is urgent (it then goes in the urgent lane)."""


_DUE_HEADS = (
    "SELECT d.id, d.tenant_id, head.is_urgent FROM flow_destinations d"
    " CROSS JOIN LATERAL ("
    "   SELECT q.is_urgent, q.due_at FROM delivery_queue q"
    "   WHERE q.destination_id = d.id AND q.due_at <= :now"
    "     AND (q.leased_until IS NULL OR q.leased_until < :now)"
    "   ORDER BY q.is_urgent DESC, q.due_at, q.id LIMIT 1"
    " ) head"
)


async def due_destinations(db: Database, now: datetime, limit: int = 200) -> list[DueDestination]:
    """Destinations with work due and not leased: those with urgent work first, then oldest due.

    Each destination's head is read off the claim index (one short index scan a destination), not by
    grouping the whole queue, which a 250,000-row publish made a full scan every second."""
    async with db.transaction(DbScope.system()) as session:
        rows = await session.execute(
            text(f"{_DUE_HEADS} ORDER BY head.is_urgent DESC, head.due_at LIMIT :limit"),
            {"now": now, "limit": limit},
        )
        return [DueDestination(*row) for row in rows.all()]


async def still_due(db: Database, destination_id: uuid.UUID, now: datetime) -> DueDestination | None:
    """The destination, if it has work due and not leased now (one index probe)."""
    async with db.transaction(DbScope.system()) as session:
        row = (
            await session.execute(
                text(f"{_DUE_HEADS} WHERE d.id = :destination"), {"now": now, "destination": destination_id}
            )
        ).first()
        return None if row is None else DueDestination(*row)
