"""Delivery with a real arq worker, and what a worker that dies mid-batch leaves behind."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from arq import create_pool
from litestar.testing import AsyncTestClient

from app.clock import FrozenClock
from app.database.engine import Database
from app.delivery.service import Deliverer, claim
from app.outbox.relay import OutboxRelay
from app.redis import arq_redis_settings
from app.settings import Settings
from app.worker import QUEUE_NAME, build_worker
from tests.app.sync.conftest import Shop, deliver_all, push, wire


async def relay_and_work(settings: Settings, db: Database) -> None:
    queue = await create_pool(arq_redis_settings(settings.redis_url or ""), default_queue_name=QUEUE_NAME)
    try:
        await OutboxRelay(db, queue, queue_name=QUEUE_NAME).drain()
    finally:
        await queue.aclose()
    await burst_worker(settings)


async def burst_worker(settings: Settings) -> None:
    """A worker that runs every job queued now, then stops (no outbox relay of its own)."""
    worker = build_worker(settings, burst=True, relay=False)
    try:
        await worker.main()
    finally:
        await worker.close()


class TestWorker:
    async def test_urgent_stock_is_delivered_by_a_burst_worker(
        self, client: AsyncTestClient[Any], key: str, shop: Shop, settings: Settings, db: Database
    ) -> None:
        await wire(client, key, shop)
        response = await push(client, key, [{"sku": "SKU-002", "location": "WH1", "on_hand": 1}])
        assert response.json()["accepted"] == 1
        await relay_and_work(settings, db)
        assert shop.on_hand("SKU-002") == 1


class TestDeadWorker:
    async def test_a_lease_left_by_a_dead_worker_expires_and_nothing_is_sent_twice(
        self,
        client: AsyncTestClient[Any],
        key: str,
        shop: Shop,
        deliverer: Deliverer,
        clock: FrozenClock,
        db: Database,
        settings: Settings,
    ) -> None:
        wiring = await wire(client, key, shop)
        await push(
            client, key, [{"sku": f"SKU-00{n}", "location": "WH1", "on_hand": 30} for n in range(1, 5)]
        )
        clock.advance(timedelta(seconds=6))
        lease = settings.delivery_lease_seconds
        _, taken = await claim(
            db, uuid.UUID(wiring.destination_id), clock.now(), 100, lease
        )  # then the worker dies
        assert len(taken) == 4
        assert (await deliver_all(deliverer, wiring, clock)).claimed == 0  # leased: nobody else takes them
        report = await deliver_all(deliverer, wiring, clock, after=lease + 1)
        assert report.delivered == 4
        assert await shop.stock_writes() == 1
        assert (await deliver_all(deliverer, wiring, clock, after=lease + 1)).claimed == 0
