"""One delivery job a destination at a time, on any worker: a second job finds the destination busy
and leaves it to the running one; the next job after it delivers."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from app.clock import FrozenClock
from app.database.engine import Database
from app.delivery.jobs import deliver_destination, delivering_key
from app.settings import Settings
from tests.app.sync.conftest import Shop, job_ctx, push, wire


class TestOneJobADestination:
    async def test_a_second_job_finds_it_busy_and_sends_nothing_then_the_next_one_delivers(
        self,
        client: AsyncTestClient[Any],
        key: str,
        shop: Shop,
        settings: Settings,
        db: Database,
        redis: Redis,
        clock: FrozenClock,
    ) -> None:
        wiring = await wire(client, key, shop)
        response = await push(client, key, [{"sku": "SKU-002", "location": "WH1", "on_hand": 1}])
        assert response.json()["accepted"] == 1  # low stock: urgent, due now
        ctx = job_ctx(settings, db, redis, clock)

        running = redis.lock(delivering_key(wiring.destination_id), timeout=60)
        assert await running.acquire(blocking=False)  # another worker's job is delivering it
        outcome = await deliver_destination(ctx, wiring.destination_id)
        assert outcome.startswith("busy")
        assert shop.on_hand("SKU-002") is None

        await running.release()
        assert await deliver_destination(ctx, wiring.destination_id) == (
            "delivered 1, retried 0, dead-lettered 0"
        )
        assert shop.on_hand("SKU-002") == 1
        assert await redis.exists(delivering_key(wiring.destination_id)) == 0  # released after the job
