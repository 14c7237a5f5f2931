"""Rate limits a template declares, and the limiter a connector asks before each remote call.

The sync engine passes a limiter shared by all workers (a token bucket in Redis, one per connection);
``LocalTokenBucket`` serves a connector used on its own, such as ``shelfsync sandbox`` demos and the
connector tests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class RateLimit:
    """``rate`` requests per second on average, with bursts of up to ``burst``."""

    rate: float
    burst: int


class RateLimiter(Protocol):
    async def acquire(self, cost: float = 1.0) -> None:
        """Wait until ``cost`` tokens are available, then take them."""


class LocalTokenBucket:
    """A token bucket for one process."""

    def __init__(
        self,
        limit: RateLimit,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._limit = limit
        self._tokens = float(limit.burst)
        self._monotonic = monotonic
        self._sleep = sleep
        self._updated = monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self, cost: float = 1.0) -> None:
        if cost > self._limit.burst:
            raise ValueError(f"a cost of {cost} exceeds the bucket's burst of {self._limit.burst}")
        async with self._lock:
            while True:
                now = self._monotonic()
                self._tokens = min(self._limit.burst, self._tokens + (now - self._updated) * self._limit.rate)
                self._updated = now
                if self._tokens >= cost:
                    self._tokens -= cost
                    return
                await self._sleep((cost - self._tokens) / self._limit.rate)
