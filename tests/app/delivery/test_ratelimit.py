"""The shared token bucket: workers on one connection draw from one budget kept in Redis."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.asyncio import Redis

from app.delivery.ratelimit import KEY_PREFIX, RedisTokenBucket
from connectors.sdk.ratelimit import RateLimit, RateLimiter

LIMIT = RateLimit(rate=10, burst=5)


class RecordingSleep:
    """A sleep that really sleeps and remembers each wait it was asked for."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(seconds)


class TestSharedBudget:
    async def test_two_workers_share_one_burst(self, redis: Redis) -> None:
        sleep = RecordingSleep()
        workers = [RedisTokenBucket(redis, "conn-1", LIMIT, sleep=sleep) for _ in range(2)]

        for turn in range(5):
            await workers[turn % 2].acquire()
        assert sleep.waits == []

        await workers[1].acquire()
        assert len(sleep.waits) == 1
        assert 0 < sleep.waits[0] <= 0.1 + 1e-6

    async def test_concurrent_workers_are_held_to_the_rate(self, redis: Redis) -> None:
        limit = RateLimit(rate=20, burst=5)
        workers = [RedisTokenBucket(redis, "conn-1", limit) for _ in range(2)]
        started = time.monotonic()

        await asyncio.gather(*(workers[turn % 2].acquire() for turn in range(11)))

        # 5 tokens come from the burst, the other 6 at 20 a second.
        assert time.monotonic() - started >= 0.3 - 0.02

    async def test_tokens_refill_with_time(self, redis: Redis) -> None:
        sleep = RecordingSleep()
        bucket = RedisTokenBucket(redis, "conn-1", LIMIT, sleep=sleep)
        for _ in range(5):
            await bucket.acquire()

        await asyncio.sleep(0.25)
        await bucket.acquire(2)

        assert sleep.waits == []

    async def test_fractional_cost_waits_for_the_shortfall(self, redis: Redis) -> None:
        sleep = RecordingSleep()
        bucket = RedisTokenBucket(redis, "conn-1", LIMIT, sleep=sleep)
        await bucket.acquire(4.5)

        await bucket.acquire(1)

        assert len(sleep.waits) == 1
        assert 0 < sleep.waits[0] <= 0.05 + 1e-6

    async def test_satisfies_the_connector_protocol(self, redis: Redis) -> None:
        limiter: RateLimiter = RedisTokenBucket(redis, "conn-1", LIMIT)
        await limiter.acquire()
        assert await redis.exists(f"{KEY_PREFIX}conn-1") == 1


class TestSeparateConnections:
    async def test_other_key_is_independent(self, redis: Redis) -> None:
        sleep = RecordingSleep()
        busy = RedisTokenBucket(redis, "conn-1", LIMIT, sleep=sleep)
        other = RedisTokenBucket(redis, "conn-2", LIMIT, sleep=sleep)
        for _ in range(5):
            await busy.acquire()

        for _ in range(5):
            await other.acquire()

        assert sleep.waits == []


class TestInvalidCost:
    async def test_cost_above_burst_raises(self, redis: Redis) -> None:
        bucket = RedisTokenBucket(redis, "conn-1", LIMIT)
        with pytest.raises(ValueError, match="exceeds the bucket's burst"):
            await bucket.acquire(6)
        assert await redis.exists(f"{KEY_PREFIX}conn-1") == 0

    async def test_negative_cost_raises(self, redis: Redis) -> None:
        bucket = RedisTokenBucket(redis, "conn-1", LIMIT)
        with pytest.raises(ValueError, match="negative"):
            await bucket.acquire(-1)

    async def test_zero_rate_is_refused(self, redis: Redis) -> None:
        with pytest.raises(ValueError, match="positive rate"):
            RedisTokenBucket(redis, "conn-1", RateLimit(rate=0, burst=5))


class TestExpiry:
    async def test_bucket_key_expires_a_little_after_a_full_refill(self, redis: Redis) -> None:
        bucket = RedisTokenBucket(redis, "conn-1", LIMIT)
        await bucket.acquire()

        ttl_ms = await redis.pttl(f"{KEY_PREFIX}conn-1")

        # Refilling 5 tokens at 10 a second takes 500 ms; the key lives a second longer.
        assert 500 < ttl_ms <= 1500

    async def test_expired_bucket_starts_full(self, redis: Redis) -> None:
        sleep = RecordingSleep()
        bucket = RedisTokenBucket(redis, "conn-1", LIMIT, sleep=sleep)
        for _ in range(5):
            await bucket.acquire()

        await redis.delete(f"{KEY_PREFIX}conn-1")
        for _ in range(5):
            await bucket.acquire()

        assert sleep.waits == []
