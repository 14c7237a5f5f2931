"""A destination that rate-limits, then fails in bursts, then goes down: Retry-After is honoured on the
queue, the circuit breaker opens and lets one probe through, dead letters come only after the flow's
``max_attempts``, and replaying them after recovery delivers everything. Time moves on the test clock;
only the breaker's short open periods (Redis server time) are waited out."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import replace
from datetime import timedelta
from typing import Any, cast

from litestar.testing import AsyncTestClient
from redis.asyncio import Redis
from sqlalchemy import func, select

from app.clock import FrozenClock
from app.database.engine import Database
from app.database.scope import DbScope
from app.delivery.breaker import KEY_PREFIX as BREAKER_PREFIX
from app.delivery.breaker import CircuitBreaker
from app.delivery.models import DeadLetter, QueuedDelivery
from app.delivery.service import Deliverer
from tests.app.api.calls import bearer
from tests.app.sync.conftest import Shop, deliver_all, push, wire
from tests.chaos.conftest import SKUS, stock_writes
from tests.chaos.tcp_proxy import proxied

MAX_ATTEMPTS = 6
OPEN_SECONDS = 0.5


async def queue_state(db: Database) -> list[tuple[int, Any]]:
    async with db.transaction(DbScope.system()) as session:
        rows = (await session.execute(select(QueuedDelivery.attempts, QueuedDelivery.due_at))).all()
    return [(attempts, due_at) for attempts, due_at in rows]


async def dead_letters(db: Database) -> list[DeadLetter]:
    async with db.transaction(DbScope.system()) as session:
        return list((await session.scalars(select(DeadLetter).order_by(DeadLetter.id))).all())


class TestDestinationFaults:
    async def test_rate_limit_then_bursts_then_outage_then_replay(
        self,
        client: AsyncTestClient[Any],
        key: str,
        shop: Shop,
        deliverer: Deliverer,
        clock: FrozenClock,
        db: Database,
        redis: Redis,
    ) -> None:
        """Fault: the shop answers 429 with Retry-After 30, then a burst of three 503s, then the link to
        it is cut (connections reset) for four batches. Load: 10 SKUs, one batch; the flow allows 6
        attempts; the breaker opens after 5 failed batches for 0.5 s (doubling). End state: the 429's
        rows wait exactly 30 s on the clock (not slept through), the 503s back off 2–4 s, the breaker
        opens after the fifth failure (the next batch is deferred without a request) and half-opens
        for one probe, whose failure reopens it for twice as long; dead letters appear only with the
        sixth attempt; after recovery and replay
        through the API every SKU is delivered once, nothing is queued and no dead letter is open."""
        skus = SKUS[:10]
        truth = {sku: 20 + n for n, sku in enumerate(skus)}
        with proxied(shop.url) as link:
            reached = replace(shop, url=link.address_of(shop.url))
            wiring = await wire(client, key, reached, max_attempts=MAX_ATTEMPTS)
            deliverer.breaker = CircuitBreaker(
                redis, open_seconds=OPEN_SECONDS, max_open_seconds=4, probe_seconds=1
            )
            await push(
                client, key, [{"sku": sku, "location": "WH1", "on_hand": n} for sku, n in truth.items()]
            )

            # 1. rate limited: the retry is due exactly when the shop said, not slept through
            await shop.fault(status=429, count=1, retry_after=30)
            report = await deliver_all(deliverer, wiring, clock, after=6)
            assert report.retried == len(skus)
            limited_at = clock.now()
            assert set(await queue_state(db)) == {(1, limited_at + timedelta(seconds=30))}
            assert (await deliver_all(deliverer, wiring, clock, after=29)).claimed == 0

            # 2. a burst of 5xx: the call's own retries give up, the rows back off 2–4 s
            await shop.fault(status=503, count=3)
            report = await deliver_all(deliverer, wiring, clock, after=1)
            assert report.retried == len(skus)
            (attempts, due_at), *_ = await queue_state(db)
            assert attempts == 2
            assert timedelta(seconds=2) <= due_at - clock.now() <= timedelta(seconds=4)

            # 3. the shop is unreachable: three more failed batches, the fifth opens the breaker
            link.cut()
            for _ in range(3):
                report = await deliver_all(deliverer, wiring, clock, after=60)
                assert report.retried == len(skus)
            assert await dead_letters(db) == []  # five attempts, not yet six
            connections = link.connections
            report = await deliver_all(deliverer, wiring, clock, after=60)
            assert (report.deferred, report.retried) == (len(skus), 0)  # open: no request at all
            assert link.connections == connections
            assert {attempts for attempts, _ in await queue_state(db)} == {5}

            # 4. the open period passes: one probe goes, fails, and is the sixth attempt: dead letters
            await asyncio.sleep(OPEN_SECONDS + 0.1)
            report = await deliver_all(deliverer, wiring, clock, after=60)
            assert report.dead_lettered == len(skus)
            letters = await dead_letters(db)
            assert {(letter.attempts, letter.status) for letter in letters} == {(MAX_ATTEMPTS, "open")}
            assert await queue_state(db) == []
            # redis-py types the asyncio client's hash reads as maybe-sync
            state = await cast(
                Awaitable[dict[bytes, bytes]], redis.hgetall(f"{BREAKER_PREFIX}{wiring.connection_id}")
            )
            assert int(state[b"period_ms"]) == 2 * OPEN_SECONDS * 1000  # reopened, for twice as long

            # 5. recovery: the link is back, every dead letter is replayed through the API
            link.restore()
            for letter in letters:
                replayed = await client.post(f"/api/v1/dead-letters/{letter.id}/replay", headers=bearer(key))
                assert replayed.status_code in (200, 201), replayed.text
            await asyncio.sleep(2 * OPEN_SECONDS + 0.1)
            report = await deliver_all(deliverer, wiring, clock, after=60)
            assert report.delivered == len(skus)

        assert {sku: shop.on_hand(sku) for sku in skus} == truth
        assert sorted(stock_writes(shop)) == sorted(truth.items())  # each SKU written once, when it went
        assert await queue_state(db) == []
        async with db.transaction(DbScope.system()) as session:
            still_open = await session.scalar(
                select(func.count()).select_from(DeadLetter).where(DeadLetter.status == "open")
            )
        assert still_open == 0
        assert await redis.exists(f"{BREAKER_PREFIX}{wiring.connection_id}") == 0  # closed again
