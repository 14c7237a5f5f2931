"""Two workers — each with its own database pool and Redis connection, as two processes would have —
racing on one coalesced batch while the shop is slow and newer values arrive mid-flight."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from app.clock import FrozenClock
from app.database.engine import Database, app_engine
from app.delivery.service import Deliverer
from app.settings import Settings
from tests.app.sync.conftest import Shop, push, wire
from tests.chaos.conftest import SKUS, stock_writes
from tests.chaos.processes import until


@pytest.fixture
async def two_workers(settings: Settings, clock: FrozenClock) -> AsyncIterator[list[Deliverer]]:
    pools = [Database.from_engine(app_engine(settings, pool_size=2)) for _ in range(2)]
    clients = [Redis.from_url(settings.redis_url or "") for _ in range(2)]
    yield [Deliverer(settings, db, redis, clock.now) for db, redis in zip(pools, clients, strict=True)]
    for db, redis in zip(pools, clients, strict=True):
        await db.dispose()
        await redis.aclose()


def counts(skus: list[str], version: int) -> list[dict[str, Any]]:
    """Counts whose value names their version: ``version × 100 + position``."""
    return [
        {
            "sku": sku,
            "location": "WH1",
            "on_hand": version * 100 + n,
            "source": "erp",
            "source_id": f"{sku}@WH1",
            "source_version": version,
        }
        for n, sku in enumerate(skus)
    ]


class TestRacingWorkers:
    async def test_one_delivery_per_value_and_the_newest_wins(
        self,
        client: AsyncTestClient[Any],
        key: str,
        shop: Shop,
        two_workers: list[Deliverer],
        clock: FrozenClock,
    ) -> None:
        """Fault: two workers start on the same due batch at the same moment, the shop takes 0.5 s per
        write, and newer counts for a third of the SKUs arrive while the first write is in flight.
        Load: 12 SKUs, 4 versions coalesced into one row each, one batch. End state: each (SKU, value)
        reached the shop once — the racing worker found the rows leased and sent none of them, the
        in-flight settlement left the changed rows queued;
        SKUs changed mid-flight were written twice, old value then new, never the reverse; every SKU
        ends at its newest value."""
        skus = SKUS[:12]
        wiring = await wire(client, key, shop)
        for version in (1, 2, 3, 4):
            await push(client, key, counts(skus, version))
        destination = uuid.UUID(wiring.destination_id)
        clock.advance(timedelta(seconds=6))
        await shop.fault(delay=0.5, count=1)
        changed = skus[::3]

        async def newer_values_mid_flight() -> None:
            # Pushed once the first write is in the shop's hands (received, held by the delay), not after
            # a fixed pause: on a loaded machine the workers had not claimed yet 0.2 s in, so the newer
            # counts went out in the first write and only 12 rows were ever claimed.
            await until(shop.write_received, 30, "the first write to reach the shop")
            assert (await push(client, key, counts(changed, 5))).status_code == 202

        first, second, _ = await asyncio.gather(
            two_workers[0].deliver_due(destination),
            two_workers[1].deliver_due(destination),
            newer_values_mid_flight(),
        )
        # a changed row still queued keeps its earlier due time and goes again at once; one the settlement
        # had already removed comes back due after the batch window, for this later pass
        clock.advance(timedelta(seconds=6))
        later = await two_workers[1].deliver_due(destination)

        reports = (first, second, later)
        assert (
            sum(r.claimed for r in reports) == sum(r.delivered for r in reports) == len(skus) + len(changed)
        )
        written = stock_writes(shop)
        assert len(written) == len(set(written)), "a value was sent twice"
        per_sku: dict[str, list[int]] = defaultdict(list)
        for sku, value in written:
            per_sku[sku].append(value // 100)
        assert {sku: versions for sku, versions in per_sku.items() if sku in changed} == {
            sku: [4, 5] for sku in changed
        }
        assert all(per_sku[sku] == [4] for sku in skus if sku not in changed)
        newest = {item["sku"]: item["on_hand"] for item in counts(skus, 4) + counts(changed, 5)}
        assert {sku: shop.on_hand(sku) for sku in skus} == newest
