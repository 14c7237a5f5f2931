"""Cron jobs keeping history in shape: partitions created ahead of the clock, and retention applied."""

from __future__ import annotations

from typing import Any

import structlog

from app.database import partitions
from app.database.engine import Database
from app.database.scope import DbScope
from app.retention.service import apply_retention as apply_retention_to

log = structlog.get_logger(__name__)


async def ensure_partitions(ctx: dict[str, Any]) -> int:
    """Create the missing monthly partitions from this month through ``MONTHS_AHEAD`` months ahead;
    how many were created (0 on most runs: it is safe to repeat)."""
    db: Database = ctx["db"]
    async with db.transaction(DbScope.system()) as session:
        made = await partitions.ensure_partitions(session, ctx["clock"].now())
    if made:
        log.info("partitions.created", count=made)
    return made


async def apply_retention(ctx: dict[str, Any]) -> dict[str, Any]:
    """Delete each retailer's history beyond its plan's retention and drop whole months no one keeps."""
    outcome = await apply_retention_to(ctx["db"], ctx["clock"].now())
    log.info("retention.applied", deleted=outcome.deleted, dropped=outcome.dropped)
    return {"deleted": outcome.deleted, "dropped": outcome.dropped}
