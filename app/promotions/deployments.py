"""Which deployments still need work, and the two ways the API and the scheduler redirect one: towards the
promotional prices (``relive``) or back to the regular ones (``restore``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.promotions.models import PromotionDeployment

RESTORED = frozenset({"paused", "rolled_back", "expired"})
"""Statuses of a deployment whose regular prices are back on the destination."""
LIVE = frozenset({"deployed", "verified"})


def needs_work_clause(now: datetime) -> ColumnElement[bool]:
    """Deployments a worker has something to send for: a failure whose retry time has come, promotional
    prices not yet deployed, or regular prices not yet restored (the sweep and a pass both ask this)."""
    d = PromotionDeployment
    return or_(
        and_(d.status == "failed", or_(d.next_attempt_at.is_(None), d.next_attempt_at <= now)),
        and_(d.goal == "live", d.status == "pending"),
        and_(d.goal == "restored", d.status.in_(["pending", *sorted(LIVE)])),
    )


def restore(deployments: Iterable[PromotionDeployment], outcome: str, now: datetime) -> int:
    """Send regular prices back (``outcome``: paused, rolled_back or expired once they are back). A
    deployment already showing regular prices is only relabelled. Returns how many changed."""
    assert outcome in RESTORED
    changed = 0
    for deployment in deployments:
        if deployment.goal == "restored" and deployment.restore_as == outcome:
            continue
        changed += 1
        deployment.goal, deployment.restore_as = "restored", outcome
        deployment.updated_at = now
        if deployment.status in RESTORED:
            deployment.status = outcome
        else:
            deployment.attempts, deployment.next_attempt_at = 0, None
    return changed


def relive(deployments: Iterable[PromotionDeployment], now: datetime) -> int:
    """Deploy the promotional prices again (resume after a pause, or a destination rolled back alone)."""
    changed = 0
    for deployment in deployments:
        if deployment.goal == "live":
            continue
        changed += 1
        deployment.goal, deployment.restore_as, deployment.status = "live", None, "pending"
        deployment.attempts, deployment.next_attempt_at, deployment.updated_at = 0, None, now
    return changed


async def deployments_of(
    session: AsyncSession, promotion_id: uuid.UUID, *where: ColumnElement[bool]
) -> list[PromotionDeployment]:
    """A promotion's deployments (those matching ``where``) in deployment order."""
    rows = await session.scalars(
        select(PromotionDeployment)
        .where(PromotionDeployment.promotion_id == promotion_id, *where)
        .order_by(PromotionDeployment.stage, PromotionDeployment.connection_name)
    )
    return list(rows.all())
