"""Wrapping outbox jobs: failures are recorded on the row and retried with backoff by arq."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from arq import Retry
from sqlalchemy import update

from app.database.scope import DbScope
from app.outbox.models import OutboxMessage

log = structlog.get_logger(__name__)

Job = Callable[[dict[str, Any], int], Awaitable[str]]

MAX_TRIES = 8


def retry_delay_seconds(attempt: int) -> int:
    """Exponential backoff: 2, 4, 8 … capped at five minutes."""
    return int(min(2**attempt, 300))


def outbox_job(job: Job) -> Job:
    """Record an exception on the outbox row and ask arq to retry later; never swallow it."""

    @functools.wraps(job)
    async def run(ctx: dict[str, Any], outbox_id: int) -> str:
        try:
            with structlog.contextvars.bound_contextvars(outbox_id=outbox_id, task=job.__name__):
                return await job(ctx, outbox_id)
        except Exception as exc:
            attempt = int(ctx.get("job_try", 1))
            log.warning("outbox.job_failed", outbox_id=outbox_id, attempt=attempt, error=str(exc))
            async with ctx["db"].transaction(DbScope.system()) as session:
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == outbox_id)
                    .values(last_error=f"{type(exc).__name__}: {exc}"[:4000])
                )
            if attempt >= MAX_TRIES:
                raise
            raise Retry(defer=retry_delay_seconds(attempt)) from exc

    return run
