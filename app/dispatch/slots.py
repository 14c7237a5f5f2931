"""Jobs handed out by the fair queue hold a slot of their tenant's lane while they run; this wrapper
gives it back when the job ends (done, failed or retried later) and hands out the next jobs at once, so a
freed slot goes to whoever's turn it is without waiting for a sweep."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Coroutine
from typing import Any

import structlog
from redis.exceptions import RedisError

from app.dispatch.fair_queue import FairQueue, Slot, release

log = structlog.get_logger(__name__)

Job = Callable[..., Coroutine[Any, Any, Any]]


def fair_queue_of(ctx: dict[str, Any]) -> FairQueue:
    """The worker's fair queue (one per worker, built on first use)."""
    queue: FairQueue | None = ctx.get("fair_queue")
    if queue is None:
        queue = ctx["fair_queue"] = FairQueue(ctx["redis"], ctx["queue_name"])
    return queue


def holds_slot(job: Job) -> Job:
    """Release the job's tenant slot (its ``fair_slot`` argument, absent for jobs queued outside the fair
    queue) when it ends. A retried run holds no slot: arq re-runs it after the release."""

    @functools.wraps(job)
    async def run(
        ctx: dict[str, Any], *args: Any, fair_slot: dict[str, str] | None = None, **kwargs: Any
    ) -> Any:
        try:
            return await job(ctx, *args, **kwargs)
        finally:
            if fair_slot is not None:
                # Redis away: the slot lapses by itself, and the sweep hands out what waits
                with contextlib.suppress(RedisError):
                    await release(ctx["redis"], Slot(**fair_slot))  # type: ignore[arg-type]
                    await fair_queue_of(ctx).hand_out()

    return run
