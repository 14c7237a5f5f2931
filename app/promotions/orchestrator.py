"""Advancing one promotion's deployments: a worker holds the promotion's lease, writes and reads back
each destination that needs it, stage after stage in the configured sequence, records every outcome on
its deployment, then moves the promotion on (activating → active once every destination was tried,
expiring → expired once regular prices are back everywhere).

A destination that fails is marked failed and retried later with backoff; the others go on. Each
outcome is written only if the deployment's goal did not change meanwhile (a pause or rollback that
arrives mid-write wins, and the next pass carries it out).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import func, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.database.scope import DbScope
from app.delivery.service import backoff_seconds
from app.logging import bind_work
from app.promotions.deploy import DeploymentError, Runtime, verify_prices, write_prices
from app.promotions.deployments import LIVE, RESTORED, deployments_of, needs_work_clause, relive
from app.promotions.lifecycle import SCHEDULER, move
from app.promotions.models import PromotionDeployment, PromotionEntry
from app.promotions.pricing import PriceBook, price_book
from app.promotions.targets import DeployTarget, price_targets, stage_of, stores_of, target_of
from connectors.canonical import Promotion, parse
from connectors.sdk.errors import ConnectorError
from tenants.models import Tenant

log = structlog.get_logger(__name__)

LEASE_SECONDS = 330
"""Longer than a worker job may run (300 s): a worker killed mid-pass frees the promotion after this."""

Now = Callable[[], datetime]


@dataclass(frozen=True)
class Attempt:
    deployment_id: uuid.UUID
    stage: int
    goal: str
    restore_as: str | None
    attempts: int
    target: DeployTarget | None
    stores: list[str] | None


async def advance(runtime: Runtime, promotion_id: uuid.UUID, now: Now) -> str:
    """One pass over the promotion's deployments that need work; ``busy`` if another worker holds it."""
    async with runtime.db.transaction(DbScope.system()) as session:
        taken = await session.execute(
            text(
                "UPDATE promotions SET leased_until = :until WHERE id = :id"
                " AND (leased_until IS NULL OR leased_until < :now) RETURNING id"
            ),
            {"id": promotion_id, "now": now(), "until": now() + timedelta(seconds=LEASE_SECONDS)},
        )
        if taken.first() is None:
            return "busy"
    try:
        return await _pass(runtime, promotion_id, now)
    finally:
        async with runtime.db.transaction(DbScope.system()) as session:
            await session.execute(
                update(PromotionEntry).where(PromotionEntry.id == promotion_id).values(leased_until=None)
            )


async def _pass(runtime: Runtime, promotion_id: uuid.UUID, now: Now) -> str:
    async with runtime.db.transaction(DbScope.system()) as session:
        entry = await session.get(PromotionEntry, promotion_id)
        if entry is None:
            return "gone"
        tenant = await session.get(Tenant, entry.tenant_id)
        assert tenant is not None
        promotion = parse(Promotion, entry.spec)
        if entry.state == "activating":
            await _plan(session, entry, tenant, promotion, now())
        due = await deployments_of(session, promotion_id, needs_work_clause(now()))
        book = await price_book(session, tenant.id, promotion, now()) if due else PriceBook({}, {}, [])
        attempts = []
        for d in due:
            target = await target_of(session, d.destination_id, tenant.partner_id)
            stores = (
                await stores_of(session, tenant.id, target, promotion)
                if target is not None and target.has_stores
                else None
            )
            attempts.append(Attempt(d.id, d.stage, d.goal, d.restore_as, d.attempts, target, stores))
    correlation_id = f"promotion-{entry.code}-{uuid.uuid4().hex[:8]}"
    bind_work(tenant_id=tenant.id, promotion_id=promotion_id, correlation_id=correlation_id)
    # Stages go live in order. Read-backs wait until every stage is written: reading a big store-file
    # drop back is CPU work that would otherwise slow the next stage's way to going live.
    written: list[tuple[Attempt, int]] = []
    for stage in sorted({a.stage for a in attempts}):
        group = [a for a in attempts if a.stage == stage]
        counts = await asyncio.gather(
            *(_write(runtime, tenant, entry, book, a, now, correlation_id) for a in group)
        )
        written += [(a, count) for a, count in zip(group, counts, strict=True) if count is not None]
    await asyncio.gather(
        *(_verify(runtime, tenant, book, a, count, now, correlation_id) for a, count in written)
    )
    async with runtime.db.transaction(DbScope.system()) as session:
        entry = await session.get(PromotionEntry, promotion_id, with_for_update=True)
        assert entry is not None
        _settle(session, entry, await deployments_of(session, promotion_id), now())
        state = entry.state
    log.info("promotion.pass", promotion=str(promotion_id), attempted=len(attempts), state=state)
    return f"{state}: attempted {len(attempts)} destination(s)"


async def _plan(
    session: AsyncSession, entry: PromotionEntry, tenant: Tenant, promotion: Promotion, now: datetime
) -> None:
    """A pending deployment for each destination that has none yet; deployments left restored by an
    earlier run (rolled back, reopened, approved again) go live again."""
    existing = await deployments_of(session, entry.id)
    relive(existing, now)
    planned = {d.destination_id for d in existing}
    for target in await price_targets(session, tenant.id, tenant.partner_id, promotion.eligibility.channels):
        if target.destination.id in planned:
            continue
        session.add(
            PromotionDeployment(
                tenant_id=tenant.id,
                promotion_id=entry.id,
                destination_id=target.destination.id,
                connection_name=target.connection.name,
                kind=target.kind,
                stage=stage_of(target.kind, entry.sequence),
                goal="live",
                status="pending",
                attempts=0,
                records=0,
            )
        )
    await session.flush()


async def _write(
    runtime: Runtime,
    tenant: Tenant,
    entry: PromotionEntry,
    book: PriceBook,
    attempt: Attempt,
    now: Now,
    correlation_id: str,
) -> int | None:
    """Send the prices; the number written, or None once the failure is recorded."""
    try:
        if attempt.target is None:
            raise DeploymentError("the destination no longer exists")
        written = await write_prices(
            runtime, tenant, attempt.target, book.records(attempt.goal, attempt.stores), correlation_id
        )
    except Exception as error:  # every failure is the deployment's: recorded, retried, never lost
        await _failed(runtime, attempt, error, now)
        return None
    if attempt.goal == "live":
        deployed_at = now()
        lateness = max(0, int((deployed_at - (entry.starts_at or deployed_at)).total_seconds() * 1000))
        await _record(
            runtime,
            attempt,
            status="deployed",
            deployed_at=deployed_at,
            records=written,
            last_error=None,
            lateness_ms=func.coalesce(PromotionDeployment.lateness_ms, lateness),
        )
    return written


async def _verify(
    runtime: Runtime,
    tenant: Tenant,
    book: PriceBook,
    attempt: Attempt,
    written: int,
    now: Now,
    correlation_id: str,
) -> None:
    """Read the destination back and record the outcome of the attempt."""
    assert attempt.target is not None
    try:
        verified = await verify_prices(
            runtime, tenant, attempt.target, book.expected(attempt.goal, attempt.stores), correlation_id
        )
    except Exception as error:  # as for writes: a failed read-back is a failed attempt, retried
        await _failed(runtime, attempt, error, now)
        return
    unread = None if verified else "written; the destination cannot be read back to verify"
    if attempt.goal == "live":
        if verified:
            await _record(runtime, attempt, status="verified", verified_at=now(), attempts=0)
        else:
            await _record(runtime, attempt, last_error=unread, attempts=0)
    else:
        await _record(
            runtime,
            attempt,
            status=attempt.restore_as,
            restored_at=now(),
            records=written,
            attempts=0,
            next_attempt_at=None,
            last_error=unread,
        )


async def _failed(runtime: Runtime, attempt: Attempt, error: Exception, now: Now) -> None:
    if not isinstance(error, ConnectorError | DeploymentError):
        log.exception("promotion.attempt_crashed", deployment=str(attempt.deployment_id))
    reason = error.message if isinstance(error, ConnectorError) else str(error) or type(error).__name__
    failed_at = now()
    await _record(
        runtime,
        attempt,
        status="failed",
        failed_at=failed_at,
        attempts=attempt.attempts + 1,
        next_attempt_at=failed_at + timedelta(seconds=backoff_seconds(attempt.attempts + 1)),
        last_error=reason[:2000],
    )


async def _record(runtime: Runtime, attempt: Attempt, **values: Any) -> None:
    """Write an outcome, unless the deployment was redirected meanwhile (then the next pass acts)."""
    async with runtime.db.transaction(DbScope.system()) as session:
        await session.execute(
            update(PromotionDeployment)
            .where(
                PromotionDeployment.id == attempt.deployment_id,
                PromotionDeployment.goal == attempt.goal,
                PromotionDeployment.restore_as.is_not_distinct_from(attempt.restore_as),
            )
            .values(updated_at=func.now(), **values)
        )


def _settle(
    session: AsyncSession, entry: PromotionEntry, deployments: list[PromotionDeployment], now: datetime
) -> None:
    if entry.state == "activating" and not any(
        d.goal == "live" and d.status == "pending" for d in deployments
    ):
        live = sum(d.status in LIVE for d in deployments)
        move(
            session,
            entry,
            "active",
            actor=SCHEDULER,
            now=now,
            reason=f"live on {live} of {len(deployments)} destination(s)",
        )
    elif entry.state == "expiring" and all(d.status in RESTORED for d in deployments):
        move(session, entry, "expired", actor=SCHEDULER, now=now, reason="regular prices are back everywhere")
