"""Two real worker processes shared by two retailers: A's bulk delivery queued first must not hold back
B's urgent stock update."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis
from sqlalchemy import func, select

from app.database.engine import Database
from app.database.scope import DbScope
from app.delivery.models import QueuedDelivery
from app.dispatch.fair_queue import running
from app.plans.terms import Quotas
from app.settings import Settings
from connectors.sandboxes import rest
from tests import factories
from tests.app.sync.conftest import SCOPES, Shop, add_connection, add_stock_flow, push, wire
from tests.chaos.conftest import SKUS
from tests.chaos.processes import running_worker, until
from tests.connectors.serving import serve
from tests.factories import World

A_DESTINATIONS = 8
A_BATCH = 5
A_SKUS = SKUS[:40]


@contextlib.asynccontextmanager
async def a_shop() -> AsyncIterator[Shop]:
    app = rest.create_app(skus=len(SKUS))
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as control:
        yield Shop(url, app.state.store, control)


async def wire_many(client: AsyncTestClient[Any], key: str, shop: Shop) -> None:
    """One stock flow to ``A_DESTINATIONS`` connections of one shop, each taking ``A_BATCH`` records a
    call: many delivery jobs, each of many calls."""
    connections = [
        await add_connection(client, key, shop.url, f"store {n}", batch_size=A_BATCH)
        for n in range(A_DESTINATIONS)
    ]
    await add_stock_flow(client, key, connections, batch_window_seconds=1)


async def queued_rows(db: Database, tenant_id: Any) -> int:
    async with db.transaction(DbScope.system()) as session:
        count = await session.scalar(select(func.count()).where(QueuedDelivery.tenant_id == tenant_id))
    return int(count or 0)


class TestNoisyNeighbour:
    @pytest.mark.timeout(180)
    async def test_urgent_stock_of_b_is_delivered_while_a_bulk_delivery_runs(
        self,
        client: AsyncTestClient[Any],
        world: World,
        db: Database,
        redis: Redis,
        settings: Settings,
        clock: Any,
    ) -> None:
        """Load: A (capped at 2 jobs a lane) has 8 destinations × 40 SKUs to deliver, 5 a call at a second a
        call: 64 calls, over half a minute at its cap. Two workers of 2 job slots each. B then sends one
        stock-out. End state: B's shop has it while A's shop has taken only a fraction of its calls, A
        never ran more than its cap, and A's delivery goes on. Without the fair queue, A's 8 jobs were
        queued first and held all 4 slots until the first of them ended (8 calls, 8 s)."""
        await factories.put_on_plan(db, world.tenant_a1, "capped", Quotas(concurrency=2), clock.now())
        key_a = await factories.make_api_key(db, world.tenant_a1, SCOPES)
        key_b = await factories.make_api_key(db, world.tenant_b1, SCOPES)
        tenant_a = str(world.tenant_a1.id)
        async with a_shop() as shop_a, a_shop() as shop_b:
            await shop_a.fault(delay=1.0, count=10_000)
            await wire_many(client, key_a, shop_a)
            await wire(client, key_b, shop_b)
            bulk = [{"sku": sku, "location": "WH1", "on_hand": 50} for sku in A_SKUS]
            assert (await push(client, key_a, bulk)).json()["accepted"] == len(A_SKUS)
            total_a = await queued_rows(db, world.tenant_a1.id)
            assert total_a == len(A_SKUS) * A_DESTINATIONS

            most_running = 0

            async def a_running() -> int:
                nonlocal most_running
                most_running = max(most_running, await running(redis, "bulk", tenant_a))
                return most_running

            env = {"WORKER_MAX_JOBS": "2"}
            with running_worker(settings, env=env) as one, running_worker(settings, env=env) as two:
                logs = lambda: one.tail() + "\n---\n" + two.tail()  # noqa: E731

                async def a_started() -> bool:
                    await a_running()
                    return await shop_a.stock_writes() >= 1

                await until(a_started, 60, "A's bulk delivery to start", show=logs)
                stock_out = [{"sku": A_SKUS[0], "location": "WH1", "on_hand": 0}]
                assert (await push(client, key_b, stock_out)).json()["accepted"] == 1

                async def b_delivered() -> bool:
                    await a_running()
                    return shop_b.on_hand(A_SKUS[0]) == 0

                await until(b_delivered, 60, "B's stock-out at B's shop", show=logs)
                a_calls_meanwhile = await shop_a.stock_writes()
                a_left = await queued_rows(db, world.tenant_a1.id)

            assert a_calls_meanwhile <= 16, f"A made {a_calls_meanwhile} of its 64 calls before B's one"
            assert a_left > 0, "A's bulk delivery had already ended"
            assert 1 <= most_running <= 2
