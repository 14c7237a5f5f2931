"""The circuit breaker per destination: opens after consecutive failures, lets one probe through
across all workers, backs off on failed probes and closes on success."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from app.delivery.breaker import KEY_PREFIX, BreakerState, CircuitBreaker, Decision

OPEN = 0.2


def fast_breaker(redis: Redis, **overrides: float) -> CircuitBreaker:
    """A breaker with periods short enough to wait out in a test."""
    options: dict[str, float] = {"open_seconds": OPEN, "max_open_seconds": 0.7, "probe_seconds": 0.3}
    options.update(overrides)
    return CircuitBreaker(
        redis,
        threshold=3,
        open_seconds=options["open_seconds"],
        max_open_seconds=options["max_open_seconds"],
        probe_seconds=options["probe_seconds"],
    )


async def trip(breaker: CircuitBreaker, key: str = "dest-1") -> None:
    for _ in range(3):
        await breaker.record_failure(key)


async def wait_out(decision: Decision) -> None:
    assert decision.state is BreakerState.OPEN
    await asyncio.sleep(decision.retry_after + 0.02)


class TestClosed:
    async def test_new_breaker_is_closed(self, redis: Redis) -> None:
        decision = await fast_breaker(redis).allow("dest-1")
        assert decision == Decision(BreakerState.CLOSED)
        assert decision.is_allowed

    async def test_failures_below_threshold_stay_closed(self, redis: Redis) -> None:
        breaker = fast_breaker(redis)
        assert await breaker.record_failure("dest-1") == 1
        assert await breaker.record_failure("dest-1") == 2

        assert (await breaker.allow("dest-1")).state is BreakerState.CLOSED

    async def test_success_resets_the_consecutive_count(self, redis: Redis) -> None:
        breaker = fast_breaker(redis)
        await breaker.record_failure("dest-1")
        await breaker.record_failure("dest-1")
        await breaker.record_success("dest-1")

        assert await breaker.record_failure("dest-1") == 1
        assert (await breaker.allow("dest-1")).state is BreakerState.CLOSED

    async def test_default_threshold_is_five(self, redis: Redis) -> None:
        breaker = CircuitBreaker(redis)
        for _ in range(4):
            await breaker.record_failure("dest-1")
        assert (await breaker.allow("dest-1")).state is BreakerState.CLOSED

        await breaker.record_failure("dest-1")
        decision = await breaker.allow("dest-1")

        assert decision.state is BreakerState.OPEN
        assert 29 < decision.retry_after <= 30


class TestOpen:
    async def test_threshold_failures_open_it_with_a_wait(self, redis: Redis) -> None:
        breaker = fast_breaker(redis)
        await trip(breaker)

        decision = await breaker.allow("dest-1")

        assert decision.state is BreakerState.OPEN
        assert not decision.is_allowed
        assert 0.1 < decision.retry_after <= OPEN

    async def test_other_workers_see_it_open(self, redis: Redis) -> None:
        await trip(fast_breaker(redis))

        assert (await fast_breaker(redis).allow("dest-1")).state is BreakerState.OPEN

    async def test_other_destination_stays_closed(self, redis: Redis) -> None:
        breaker = fast_breaker(redis)
        await trip(breaker, "dest-1")

        assert (await breaker.allow("dest-2")).state is BreakerState.CLOSED

    async def test_late_failures_do_not_extend_the_open_period(self, redis: Redis) -> None:
        breaker = fast_breaker(redis)
        await trip(breaker)
        first = await breaker.allow("dest-1")

        await asyncio.sleep(0.05)
        await breaker.record_failure("dest-1")
        later = await breaker.allow("dest-1")

        assert later.state is BreakerState.OPEN
        assert later.retry_after < first.retry_after

    async def test_state_key_expires(self, redis: Redis) -> None:
        breaker = fast_breaker(redis)
        await trip(breaker)

        ttl_ms = await redis.pttl(f"{KEY_PREFIX}dest-1")

        assert 0 < ttl_ms <= 200 + 700


class TestHalfOpen:
    async def test_exactly_one_concurrent_caller_probes(self, redis: Redis) -> None:
        workers = [fast_breaker(redis) for _ in range(4)]
        await trip(workers[0])
        await wait_out(await workers[0].allow("dest-1"))

        decisions = await asyncio.gather(*(workers[turn % 4].allow("dest-1") for turn in range(20)))

        states = [decision.state for decision in decisions]
        assert states.count(BreakerState.HALF_OPEN) == 1
        assert states.count(BreakerState.OPEN) == 19
        waiting = [decision for decision in decisions if decision.state is BreakerState.OPEN]
        assert all(0 < decision.retry_after <= 0.3 for decision in waiting)

    async def test_probe_that_never_reports_lets_another_probe_after_its_lease(self, redis: Redis) -> None:
        breaker = fast_breaker(redis)
        await trip(breaker)
        await wait_out(await breaker.allow("dest-1"))
        assert (await breaker.allow("dest-1")).state is BreakerState.HALF_OPEN

        await wait_out(await breaker.allow("dest-1"))

        assert (await breaker.allow("dest-1")).state is BreakerState.HALF_OPEN

    async def test_failed_probe_reopens_for_twice_as_long(self, redis: Redis) -> None:
        breaker = fast_breaker(redis)
        await trip(breaker)
        await wait_out(await breaker.allow("dest-1"))
        assert (await breaker.allow("dest-1")).state is BreakerState.HALF_OPEN

        await breaker.record_failure("dest-1")
        decision = await breaker.allow("dest-1")

        assert decision.state is BreakerState.OPEN
        assert 2 * OPEN - 0.05 < decision.retry_after <= 2 * OPEN

    async def test_doubling_stops_at_the_cap(self, redis: Redis) -> None:
        breaker = fast_breaker(redis, open_seconds=0.1, max_open_seconds=0.3)
        await trip(breaker)
        periods: list[float] = []
        for _ in range(3):
            decision = await breaker.allow("dest-1")
            periods.append(decision.retry_after)
            await wait_out(decision)
            assert (await breaker.allow("dest-1")).state is BreakerState.HALF_OPEN
            await breaker.record_failure("dest-1")

        last = await breaker.allow("dest-1")
        periods.append(last.retry_after)

        assert periods[1] > 0.15  # doubled from 0.1
        assert 0.25 < periods[2] <= 0.3  # 0.4 capped at 0.3
        assert 0.25 < periods[3] <= 0.3

    async def test_successful_probe_closes_and_resets(self, redis: Redis) -> None:
        breaker = fast_breaker(redis)
        await trip(breaker)
        await wait_out(await breaker.allow("dest-1"))
        assert (await breaker.allow("dest-1")).state is BreakerState.HALF_OPEN
        await breaker.record_failure("dest-1")
        await wait_out(await breaker.allow("dest-1"))
        assert (await breaker.allow("dest-1")).state is BreakerState.HALF_OPEN

        await breaker.record_success("dest-1")

        assert (await breaker.allow("dest-1")).state is BreakerState.CLOSED
        assert await breaker.record_failure("dest-1") == 1
        await breaker.record_failure("dest-1")
        await breaker.record_failure("dest-1")
        reopened = await breaker.allow("dest-1")
        assert reopened.state is BreakerState.OPEN
        assert reopened.retry_after <= OPEN  # back to the first period, not the doubled one


class TestConfiguration:
    @pytest.mark.parametrize(
        ("threshold", "open_seconds", "max_open_seconds", "probe_seconds", "reason"),
        [
            (0, 30.0, 600.0, 30.0, "threshold must be at least 1"),
            (5, 0.0, 600.0, 30.0, "open period must be positive"),
            (5, 30.0, 10.0, 30.0, "longest open period must be at least 30"),
            (5, 30.0, 600.0, 0.0, "lease must be positive"),
        ],
    )
    def test_invalid_settings_are_refused(
        self,
        redis: Redis,
        threshold: int,
        open_seconds: float,
        max_open_seconds: float,
        probe_seconds: float,
        reason: str,
    ) -> None:
        with pytest.raises(ValueError, match=reason):
            CircuitBreaker(
                redis,
                threshold=threshold,
                open_seconds=open_seconds,
                max_open_seconds=max_open_seconds,
                probe_seconds=probe_seconds,
            )
