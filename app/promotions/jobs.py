"""arq jobs of promotions: the once-a-second sweep, and advancing one promotion's deployments."""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Any

from app.crypto import SecretBox
from app.database.engine import Database
from app.database.scope import DbScope
from app.delivery.jobs import per_second_job_id
from app.dispatch.fair_queue import JOB_EXPIRES, arq_score
from app.outbox.service import claim_work
from app.promotions.deploy import Runtime
from app.promotions.orchestrator import advance
from app.promotions.scheduler import ADVANCE_TASK, expire_due, needing_work, start_due


def runtime_of(ctx: dict[str, Any]) -> Runtime:
    settings = ctx["settings"]
    return Runtime(settings, ctx["db"], ctx["redis"], SecretBox.from_settings(settings))


async def advance_promotion(ctx: dict[str, Any], promotion_id: str) -> str:
    return await advance(runtime_of(ctx), uuid.UUID(promotion_id), ctx["clock"].now)


async def promotion_step(ctx: dict[str, Any], outbox_id: int) -> str:
    """Outbox job: an API action (activate, pause, rollback) changed the promotion; advance it now."""
    async with ctx["db"].transaction(DbScope.system()) as session:
        message = await claim_work(session, outbox_id)
        if message is None:
            return "already-processed"
        promotion_id = message.payload["promotion_id"]
    return await advance_promotion(ctx, promotion_id)


async def sweep(db: Database, now: datetime) -> list[uuid.UUID]:
    """Start and expire promotions at their window's edges; the promotions with deployment work."""
    async with db.transaction(DbScope.system()) as session:
        await start_due(session, now)
        await expire_due(session, now)
    async with db.transaction(DbScope.system()) as session:
        return await needing_work(session, now)


async def promotions_due(ctx: dict[str, Any]) -> str:
    """Cron, every second: the sweep, then one job per promotion with work (at most one a second), in the
    urgent lane: scored ahead of every bulk job in arq (activation and rollback are urgent work)."""
    due = await sweep(ctx["db"], ctx["clock"].now())
    now = time.time()
    for promotion_id in due:
        await ctx["redis"].enqueue_job(
            ADVANCE_TASK,
            str(promotion_id),
            _job_id=per_second_job_id("promotion", str(promotion_id), now),
            _queue_name=ctx["queue_name"],
            _defer_until=arq_score("urgent", now),
            _expires=JOB_EXPIRES,
        )
    return f"advancing {len(due)}"
