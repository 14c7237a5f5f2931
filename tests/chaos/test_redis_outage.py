"""Redis cut off behind a TCP fault proxy while events stream in: the API keeps accepting them (they
are stored in PostgreSQL), the worker process outlives the outage, and the backlog drains once Redis
is back."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from app.clock import FrozenClock
from app.database.engine import Database
from app.database.scope import DbScope
from app.delivery.models import QueuedDelivery
from app.factory import create_app
from app.outbox.models import OutboxMessage
from app.settings import Settings
from tests.app.sync.conftest import Shop, push, wire
from tests.chaos.conftest import SKUS
from tests.chaos.processes import running_worker, until
from tests.chaos.tcp_proxy import TcpFaultProxy, proxied

OUTAGE_SECONDS = 3.0
"""The outage, compressed from ~10 s: long enough for the worker to lose Redis and for a dozen pushes."""


@pytest.fixture
def redis_link(settings: Settings) -> Iterator[TcpFaultProxy]:
    with proxied(settings.redis_url or "") as proxy:
        yield proxy


@pytest.fixture
def behind(settings: Settings, redis_link: TcpFaultProxy) -> Settings:
    """The settings with Redis reached only through the proxy."""
    return replace(settings, redis_url=redis_link.address_of(settings.redis_url or ""))


@pytest.fixture
async def proxied_client(behind: Settings, clock: FrozenClock) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(create_app(behind, clock=clock), base_url="https://localhost") as client:
        yield client


def count(sku: str, on_hand: int, version: int) -> dict[str, Any]:
    """A stock count as an ERP sends it: its source identity makes a later equal count a new event."""
    return {
        "sku": sku,
        "location": "WH1",
        "on_hand": on_hand,
        "source": "erp",
        "source_id": f"{sku}@WH1",
        "source_version": version,
    }


PUSH_SECONDS = 2.5
"""A push must not wait on Redis: this is above a loaded machine's slowest push and near the Redis
client's 2 s connect timeout, which a push that reached for Redis would spend."""


class TestRedisOutage:
    async def test_events_pushed_during_the_outage_are_all_delivered_after_it(
        self,
        proxied_client: AsyncTestClient[Any],
        key: str,
        shop: Shop,
        behind: Settings,
        redis_link: TcpFaultProxy,
        db: Database,
    ) -> None:
        """Fault: every Redis connection of the API and of a running `shelfsync worker` process reset,
        and new ones refused, for 3 s. Load: 30 SKUs, a push every 0.25 s during the outage (some
        urgent, nudged through the outbox; some waiting for the batch window, found by the sweep).
        End state: every push answered 202 without waiting on Redis; the same worker process, once Redis is
        back, relays the outbox and delivers: the shop holds every SKU's last value, nothing is left
        queued or unrelayed."""
        await wire(proxied_client, key, shop, low_stock_threshold=3, batch_window_seconds=0.5)
        skus = SKUS[:30]
        rng = random.Random(7)
        truth: dict[str, int] = {}

        versions = iter(range(1, 10_000))

        async def push_some() -> float:
            version = next(versions)
            items = [count(sku, rng.randint(0, 9), version) for sku in rng.sample(skus, 8)]
            started = time.monotonic()
            response = await push(proxied_client, key, items)
            elapsed = time.monotonic() - started
            assert response.status_code == 202, response.text
            assert response.json()["rejected"] == 0
            truth.update({item["sku"]: item["on_hand"] for item in items})
            return elapsed

        async def delivered() -> bool:
            return all(shop.on_hand(sku) == value for sku, value in truth.items())

        with running_worker(behind) as worker:
            await push_some()
            await until(delivered, 30, "the worker's first delivery", show=worker.tail)
            redis_link.cut()
            outage_ends = time.monotonic() + OUTAGE_SECONDS
            slowest = 0.0
            while time.monotonic() < outage_ends:
                slowest = max(slowest, await push_some())
                await asyncio.sleep(0.25)
            assert slowest < PUSH_SECONDS
            assert not await delivered()  # the outage held the deliveries back
            redis_link.restore()

            async def drained() -> bool:
                async with db.transaction(DbScope.system()) as session:
                    queued = await session.scalar(select(func.count()).select_from(QueuedDelivery))
                    unprocessed = await session.scalar(
                        select(func.count())
                        .select_from(OutboxMessage)
                        .where(OutboxMessage.processed_at.is_(None))
                    )
                return queued == 0 and unprocessed == 0 and await delivered()

            await until(drained, 30, "the backlog to drain after Redis came back", show=worker.tail)
            assert worker.is_running  # the same process, not a restart
            assert "worker.redis_lost" in worker.log.read_text()
        assert {sku: shop.on_hand(sku) for sku in truth} == truth
