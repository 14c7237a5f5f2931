"""The promotion clock, swept every second: a scheduled promotion whose window has started begins
activating, an active (or paused) one whose window has ended begins expiring, and each promotion with a
deployment that needs work (and no worker holding it) is handed to a worker."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.promotions.deployments import needs_work_clause, restore
from app.promotions.lifecycle import SCHEDULER, move
from app.promotions.models import PromotionDeployment, PromotionEntry

PROMOTION_STEP_TASK = "promotion_step"
"""Outbox task: advance the promotion named in the row (queued with an API action)."""
ADVANCE_TASK = "advance_promotion"
"""arq job the sweep enqueues directly: advance one promotion."""


async def start_due(session: AsyncSession, now: datetime) -> list[uuid.UUID]:
    """Scheduled promotions whose window has started become activating."""
    due = (
        await session.scalars(
            select(PromotionEntry)
            .where(PromotionEntry.state == "scheduled", PromotionEntry.starts_at <= now)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for entry in due:
        move(session, entry, "activating", actor=SCHEDULER, now=now, reason="the window has started")
    return [entry.id for entry in due]


async def expire_due(session: AsyncSession, now: datetime) -> list[uuid.UUID]:
    """Active or paused promotions whose window has ended begin expiring: regular prices go back."""
    due = (
        await session.scalars(
            select(PromotionEntry)
            .where(PromotionEntry.state.in_(["active", "paused"]), PromotionEntry.ends_at <= now)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for entry in due:
        move(session, entry, "expiring", actor=SCHEDULER, now=now, reason="the window has ended")
        deployments = (
            await session.scalars(
                select(PromotionDeployment).where(PromotionDeployment.promotion_id == entry.id)
            )
        ).all()
        restore(deployments, "expired", now)
    return [entry.id for entry in due]


async def needing_work(session: AsyncSession, now: datetime) -> list[uuid.UUID]:
    """Promotions no worker holds that are activating (to plan their deployments) or have a deployment
    with work to do."""
    d = PromotionDeployment
    has_work = exists().where(d.promotion_id == PromotionEntry.id, needs_work_clause(now))
    rows = await session.scalars(
        select(PromotionEntry.id).where(
            or_(PromotionEntry.leased_until.is_(None), PromotionEntry.leased_until < now),
            or_(PromotionEntry.state == "activating", has_work),
        )
    )
    return list(rows.all())
