"""One delivery job a destination at a time, on any worker: a second job finds the destination busy
and leaves it to the running one; the next job after it delivers. A job handed out by the fair queue
takes turns with its tenant's other waiting work."""

from __future__ import annotations

import uuid
from typing import Any

from arq import create_pool
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis
from sqlalchemy import update

from app.clock import FrozenClock
from app.connections.models import Connection
from app.database.engine import Database
from app.database.scope import DbScope
from app.delivery.jobs import DELIVER_TASK, deliver_destination, delivering_key
from app.dispatch.fair_queue import FairJob, waiting
from app.dispatch.slots import fair_queue_of
from app.redis import arq_redis_settings
from app.settings import Settings
from app.worker import QUEUE_NAME
from tests.app.sync.conftest import Shop, job_ctx, push, wire
from tests.factories import World


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


class TestTakingTurns:
    async def test_a_job_yields_between_batches_when_its_tenant_has_work_waiting(
        self,
        client: AsyncTestClient[Any],
        key: str,
        shop: Shop,
        settings: Settings,
        db: Database,
        clock: FrozenClock,
        world: World,
    ) -> None:
        wiring = await wire(client, key, shop)
        async with db.transaction(DbScope.system()) as session:
            await session.execute(
                update(Connection)
                .where(Connection.id == uuid.UUID(wiring.connection_id))
                .values(batch_size=1)
            )
        low = [{"sku": f"SKU-00{n}", "location": "WH1", "on_hand": n} for n in (1, 2, 3)]
        assert (await push(client, key, low)).json()["accepted"] == 3  # urgent, one row a batch
        tenant = str(world.tenant_a1.id)
        pool = await create_pool(arq_redis_settings(settings.redis_url or ""), default_queue_name=QUEUE_NAME)
        try:
            ctx = {**job_ctx(settings, db, pool, clock)}
            other = FairJob(tenant, "urgent", DELIVER_TASK, ["elsewhere"], "deliver:elsewhere:urgent", "x")
            await fair_queue_of(ctx).submit(other, cap=1)

            outcome = await deliver_destination(ctx, wiring.destination_id, tenant, "urgent")

            assert outcome == "delivered 1, retried 0, dead-lettered 0"  # one batch, then its turn ended
            # the destination queued again behind the other destination's job, which went out first and
            # takes the tenant's one slot
            queued = [member.decode() for member in await pool.zrange(QUEUE_NAME, 0, -1)]
            assert queued == ["x"]
            assert await waiting(pool, "urgent", tenant) == 1
            await pool.delete(
                f"shelfsync:fair:urgent:queue:{tenant}",
                f"shelfsync:fair:job:deliver:{wiring.destination_id}:urgent",
            )

            # with nothing else of the tenant waiting, a job keeps going to the end of the work
            assert await deliver_destination(ctx, wiring.destination_id, tenant, "urgent") == (
                "delivered 2, retried 0, dead-lettered 0"
            )
        finally:
            await pool.aclose()
