"""The fair queue on a real Redis: round-robin across tenants, per-tenant caps, urgent before bulk,
de-duplication while waiting, and slots that lapse when their worker died."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from arq import create_pool
from arq.connections import ArqRedis

from app.dispatch.fair_queue import FairJob, FairQueue, Lane, Slot, release, running, running_key, waiting
from app.redis import arq_redis_settings
from app.settings import Settings

QUEUE = "test:fair"


@pytest.fixture
async def fair(settings: Settings) -> AsyncIterator[FairQueue]:
    pool: ArqRedis = await create_pool(arq_redis_settings(settings.redis_url or ""), default_queue_name=QUEUE)
    yield FairQueue(pool, QUEUE)
    await pool.aclose()


def job(tenant: str, n: int, lane: Lane = "bulk") -> FairJob:
    name = f"{tenant}{n}"
    return FairJob(tenant, lane, "deliver_destination", [name], pending_id=name, job_id=name)


async def arq_order(fair: FairQueue) -> list[str]:
    """The job ids in arq's queue, in the order a worker takes them."""
    return [member.decode() for member in await fair.redis.zrange(QUEUE, 0, -1)]


class TestHandOut:
    async def test_round_robin_across_tenants(self, fair: FairQueue) -> None:
        for n in range(1, 5):
            await fair.submit(job("A", n), cap=10)
        for n in range(1, 3):
            await fair.submit(job("B", n), cap=10)
        await fair.submit(job("C", 1), cap=10)

        assert await fair.hand_out() == 7
        assert await arq_order(fair) == ["A1", "B1", "C1", "A2", "B2", "A3", "A4"]
        assert await waiting(fair.redis, "bulk", "A") == 0

    async def test_a_tenant_at_its_cap_waits_and_others_go_on(self, fair: FairQueue) -> None:
        for n in range(1, 6):
            await fair.submit(job("A", n), cap=2)
        await fair.submit(job("B", 1), cap=2)

        assert await fair.hand_out() == 3
        assert await arq_order(fair) == ["A1", "B1", "A2"]
        assert await running(fair.redis, "bulk", "A") == 2
        assert await fair.hand_out() == 0  # A is at its cap; nothing else waits
        assert await waiting(fair.redis, "bulk", "A") == 3

        slot_id = (await fair.redis.zrange(running_key("bulk", "A"), 0, 0))[0].decode()
        await release(fair.redis, Slot("A", "bulk", slot_id))
        assert await fair.hand_out() == 1
        # A3 went (its place in arq beside A2 depends on the millisecond each hand-out ran in)
        assert sorted(await arq_order(fair)) == ["A1", "A2", "A3", "B1"]

    async def test_urgent_work_goes_ahead_of_bulk_work_queued_before_it(self, fair: FairQueue) -> None:
        for n in range(1, 4):
            await fair.submit(job("A", n), cap=10)
        await fair.hand_out()
        await fair.submit(job("B", 1, lane="urgent"), cap=10)
        await fair.hand_out()

        assert await arq_order(fair) == ["B1", "A1", "A2", "A3"]

    async def test_urgent_and_bulk_lanes_have_a_cap_each(self, fair: FairQueue) -> None:
        for n in range(1, 4):
            await fair.submit(job("A", n), cap=1)
        await fair.submit(job("A", 9, lane="urgent"), cap=1)
        assert await fair.hand_out() == 2  # one bulk, and the urgent one beside it
        assert await running(fair.redis, "urgent", "A") == 1
        assert await running(fair.redis, "bulk", "A") == 1

    async def test_the_same_work_waits_once(self, fair: FairQueue) -> None:
        assert await fair.submit(job("A", 1), cap=4) is True
        assert await fair.submit(job("A", 1), cap=4) is False
        assert await fair.hand_out() == 1
        assert await fair.hand_out() == 0
        # handed out, the same id may wait again (arq de-duplicates what it still holds)
        assert await fair.submit(job("A", 1), cap=4) is True

    async def test_a_slot_whose_worker_died_lapses(self, fair: FairQueue) -> None:
        for n in range(1, 3):
            await fair.submit(job("A", n), cap=1)
        assert await fair.hand_out() == 1
        assert await fair.hand_out() == 0
        # the worker holding A1 was killed: its slot's lapse time passes
        slot_id = (await fair.redis.zrange(running_key("bulk", "A"), 0, 0))[0]
        await fair.redis.zadd(running_key("bulk", "A"), {slot_id: 1})
        assert await fair.hand_out() == 1
        assert await arq_order(fair) == ["A1", "A2"]

    async def test_a_job_arq_already_holds_gives_its_slot_back(self, fair: FairQueue) -> None:
        await fair.redis.enqueue_job("deliver_destination", "A1", _job_id="A1", _queue_name=QUEUE)
        await fair.submit(job("A", 1), cap=1)
        assert await fair.hand_out() == 0
        assert await running(fair.redis, "bulk", "A") == 0
