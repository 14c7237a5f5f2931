"""What ``/activate``, ``/pause`` and ``/rollback`` do to a promotion and its deployments, for all
destinations or the ones named; every change that leaves work hands the promotion to a worker at once."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.outbox.service import record_work
from app.promotions.deployments import relive, restore
from app.promotions.lifecycle import IllegalTransitionError, move
from app.promotions.models import PromotionDeployment, PromotionEntry
from app.promotions.scheduler import PROMOTION_STEP_TASK


@dataclass(frozen=True)
class Decision:
    """Who acts, when, why, and the request's correlation id (handed on to the worker)."""

    actor: str
    now: datetime
    reason: str | None
    correlation_id: str | None


class UnknownDestinationError(Exception):
    def __init__(self, missing: list[uuid.UUID]) -> None:
        super().__init__("the promotion has no deployment on these destinations")
        self.missing = missing


async def _chosen(
    session: AsyncSession, entry: PromotionEntry, destinations: Sequence[uuid.UUID] | None
) -> list[PromotionDeployment]:
    rows = list(
        (
            await session.scalars(
                select(PromotionDeployment)
                .where(PromotionDeployment.promotion_id == entry.id)
                .with_for_update()
            )
        ).all()
    )
    if destinations is None:
        return rows
    by_destination = {row.destination_id: row for row in rows}
    missing = [d for d in destinations if d not in by_destination]
    if missing:
        raise UnknownDestinationError(missing)
    return [by_destination[d] for d in dict.fromkeys(destinations)]


async def _hand_on(session: AsyncSession, entry: PromotionEntry, correlation_id: str | None) -> None:
    await record_work(
        session,
        PROMOTION_STEP_TASK,
        {"promotion_id": str(entry.id)},
        tenant_id=entry.tenant_id,
        correlation_id=correlation_id,
        lane="urgent",
    )


def _require(entry: PromotionEntry, states: tuple[str, ...], wanted: str) -> None:
    if entry.state not in states:
        raise IllegalTransitionError(entry.state, wanted)


async def activate(
    session: AsyncSession,
    entry: PromotionEntry,
    destinations: Sequence[uuid.UUID] | None,
    decision: Decision,
) -> None:
    """Approved: schedule it (it activates at the window's start, at once if that has passed). Paused:
    resume everywhere. Active with ``destinations``: deploy again where it was paused or rolled back."""
    if destinations is not None:
        _require(entry, ("active",), "active")
        if relive(await _chosen(session, entry, destinations), decision.now):
            await _hand_on(session, entry, decision.correlation_id)
        return
    if entry.state == "paused":
        move(session, entry, "active", actor=decision.actor, now=decision.now, reason=decision.reason)
        relive(await _chosen(session, entry, None), decision.now)
        await _hand_on(session, entry, decision.correlation_id)
        return
    move(session, entry, "scheduled", actor=decision.actor, now=decision.now, reason=decision.reason)
    if entry.starts_at is not None and entry.starts_at <= decision.now:
        move(
            session,
            entry,
            "activating",
            actor=decision.actor,
            now=decision.now,
            reason="the window has already started",
        )
        await _hand_on(session, entry, decision.correlation_id)


async def pause(
    session: AsyncSession,
    entry: PromotionEntry,
    destinations: Sequence[uuid.UUID] | None,
    decision: Decision,
) -> None:
    """Put regular prices back (everywhere, or on ``destinations``) until resumed with ``/activate``."""
    if destinations is not None:
        _require(entry, ("active",), "paused")
    else:
        move(session, entry, "paused", actor=decision.actor, now=decision.now, reason=decision.reason)
    if restore(await _chosen(session, entry, destinations), "paused", decision.now):
        await _hand_on(session, entry, decision.correlation_id)


async def rollback(
    session: AsyncSession,
    entry: PromotionEntry,
    destinations: Sequence[uuid.UUID] | None,
    decision: Decision,
) -> None:
    """Restore the prices in force before the promotion (everywhere, or on ``destinations``)."""
    if destinations is not None:
        _require(entry, ("active", "paused"), "rolled_back")
    else:
        move(session, entry, "rolled_back", actor=decision.actor, now=decision.now, reason=decision.reason)
    if restore(await _chosen(session, entry, destinations), "rolled_back", decision.now):
        await _hand_on(session, entry, decision.correlation_id)
