"""The in-process token bucket, driven by a fake monotonic clock that a recording sleep advances."""

from __future__ import annotations

import asyncio

import pytest

from connectors.sdk.ratelimit import LocalTokenBucket, RateLimit


class FakeTime:
    """A monotonic clock that only moves when the bucket sleeps (or a test says so)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if len(self.sleeps) > 50:
            raise RuntimeError("the bucket keeps sleeping: the request can never be served")
        self.now += seconds


def bucket(time: FakeTime, rate: float = 2, burst: int = 3) -> LocalTokenBucket:
    return LocalTokenBucket(RateLimit(rate=rate, burst=burst), monotonic=time.monotonic, sleep=time.sleep)


class TestBurst:
    async def test_burst_is_served_at_once(self) -> None:
        time = FakeTime()
        limiter = bucket(time)
        for _ in range(3):
            await limiter.acquire()
        assert time.sleeps == []

    async def test_then_paced_at_the_rate(self) -> None:
        time = FakeTime()
        limiter = bucket(time, rate=2, burst=3)
        for _ in range(5):
            await limiter.acquire()
        assert time.sleeps == [0.5, 0.5]

    async def test_refill_is_capped_at_burst(self) -> None:
        time = FakeTime()
        limiter = bucket(time, rate=2, burst=3)
        for _ in range(3):
            await limiter.acquire()
        time.now += 3600  # an idle hour refills to the burst, not to 7200
        for _ in range(4):
            await limiter.acquire()
        assert time.sleeps == [0.5]

    async def test_cost(self) -> None:
        time = FakeTime()
        limiter = bucket(time, rate=1, burst=4)
        await limiter.acquire(3)
        await limiter.acquire(3)
        assert time.sleeps == [2.0]

    async def test_concurrent_callers_are_serialised(self) -> None:
        time = FakeTime()
        limiter = bucket(time, rate=10, burst=1)
        await asyncio.gather(*(limiter.acquire() for _ in range(4)))
        assert time.sleeps == pytest.approx([0.1, 0.1, 0.1])

    async def test_cost_above_burst_is_refused(self) -> None:
        time = FakeTime()
        with pytest.raises(ValueError, match="burst"):
            await bucket(time, rate=1, burst=2).acquire(5)
