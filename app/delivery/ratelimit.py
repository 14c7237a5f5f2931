"""The per-connection rate limiter every worker on every host shares: a token bucket in Redis
(:mod:`app.token_bucket`) that a delivery waits on."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from app.token_bucket import TokenBucket
from connectors.sdk.ratelimit import RateLimit

KEY_PREFIX = "shelfsync:rate:"


class RedisTokenBucket:
    """A ``RateLimiter`` for one connection whose budget all workers draw from.

    ``key`` names the bucket (the connection's id); the Redis key is ``shelfsync:rate:<key>``.
    """

    def __init__(
        self,
        redis: Redis,
        key: str,
        limit: RateLimit,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._bucket = TokenBucket(redis, f"{KEY_PREFIX}{key}", limit.rate, limit.burst)
        self._sleep = sleep
        self.redis_key = self._bucket.redis_key

    async def acquire(self, cost: float = 1.0) -> None:
        """Wait until ``cost`` tokens are in the shared bucket, then take them."""
        while not (taken := await self._bucket.take(cost)).is_allowed:
            await self._sleep(taken.wait)
