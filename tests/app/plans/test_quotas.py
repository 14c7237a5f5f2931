"""Plan quotas: connections and events a month. A soft limit warns (a banner, the partner told once), a
hard limit refuses new work with ``quota-exceeded``, and work accepted before is never dropped."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient
from redis.asyncio import Redis
from sqlalchemy import func, select

from app.clock import FrozenClock
from app.connections.models import Connection
from app.database.engine import Database
from app.database.scope import DbScope
from app.delivery.models import QueuedDelivery
from app.ingress.models import IngressEvent
from app.mail.models import OutboundMail
from app.metering.periods import period_at
from app.outbox.models import OutboxMessage
from app.plans.models import QuotaNotice
from app.plans.quotas import NOTIFY_QUOTA_TASK, notify_quota
from app.plans.terms import Quota, Quotas
from app.settings import Settings
from tests import factories
from tests.app.api.calls import assert_problem, bearer
from tests.app.portal.conftest import alpha
from tests.app.portal.forms import sign_in
from tests.app.sync.conftest import SCOPES, WRITES, add_connection, add_stock_flow, job_ctx
from tests.factories import PASSWORD, World

__all__ = ["alpha"]


async def count(db: Database, model: Any, *where: Any) -> int:
    async with db.transaction(DbScope.system()) as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def new_connection(client: AsyncTestClient[Any], key: str, name: str) -> Any:
    config = {"base_url": "https://shop.example", "api_key": "k", "writes": WRITES}
    return await client.post(
        "/api/v1/connections", json={"name": name, "template": "rest", "config": config}, headers=bearer(key)
    )


async def send_notices(settings: Settings, db: Database, redis: Redis, clock: FrozenClock) -> list[str]:
    """Run the queued ``notify_quota`` jobs as a worker would; the addresses mailed."""
    async with db.transaction(DbScope.system()) as session:
        ids = (
            await session.scalars(select(OutboxMessage.id).where(OutboxMessage.task == NOTIFY_QUOTA_TASK))
        ).all()
    for outbox_id in ids:
        await notify_quota(job_ctx(settings, db, redis, clock), outbox_id)
    async with db.transaction(DbScope.system()) as session:
        return list((await session.scalars(select(OutboundMail.to_address).order_by(OutboundMail.id))).all())


class TestConnectionsQuota:
    async def test_soft_warns_once_and_hard_refuses_cleanly(
        self,
        client: AsyncTestClient[Any],
        world: World,
        db: Database,
        redis: Redis,
        settings: Settings,
        clock: FrozenClock,
    ) -> None:
        quotas = Quotas(connections=Quota(soft=1, hard=2))
        await factories.put_on_plan(db, world.tenant_a1, "small", quotas, clock.now())
        key = await factories.make_api_key(db, world.tenant_a1, SCOPES)

        assert (await new_connection(client, key, "one")).status_code == 201
        assert (await new_connection(client, key, "two")).status_code == 201
        refused = await new_connection(client, key, "three")

        body = assert_problem(refused, 403, "quota-exceeded")
        assert (body["quota"], body["limit"], body["used"]) == ("connections", 2, 2)
        assert await count(db, Connection, Connection.tenant_id == world.tenant_a1.id) == 2
        # the soft limit reached with the first, the hard one with the second: each told once
        async with db.transaction(DbScope.system()) as session:
            notices = (await session.execute(select(QuotaNotice.level, QuotaNotice.used))).all()
        assert sorted(notices) == [("hard", 2), ("soft", 1)]
        assert (await new_connection(client, key, "four")).status_code == 403
        assert await count(db, QuotaNotice) == 2
        assert await send_notices(settings, db, redis, clock) == ["admin@alpha.example"] * 2


class TestEventsQuota:
    async def test_hard_limit_refuses_new_batches_and_keeps_accepted_work(
        self,
        client: AsyncTestClient[Any],
        world: World,
        db: Database,
        redis: Redis,
        settings: Settings,
        clock: FrozenClock,
    ) -> None:
        quotas = Quotas(events_per_month=Quota(soft=3, hard=5))
        await factories.put_on_plan(db, world.tenant_a1, "small", quotas, clock.now())
        key = await factories.make_api_key(db, world.tenant_a1, SCOPES)
        other = await factories.make_api_key(db, world.tenant_b1, SCOPES)
        await wire_stock(client, key)

        def batch(first: int, size: int) -> dict[str, Any]:
            items = [
                {"sku": f"SKU-{n:03d}", "location": "WH1", "on_hand": 10 + n}
                for n in range(first, first + size)
            ]
            return {"items": items}

        first = await client.post("/api/v1/events/inventory", json=batch(1, 3), headers=bearer(key))
        second = await client.post("/api/v1/events/inventory", json=batch(4, 3), headers=bearer(key))
        assert first.json()["accepted"] == second.json()["accepted"] == 3  # under the limit: taken whole
        queued = await count(db, QueuedDelivery)
        assert queued == 6

        await redis.flushdb()  # the month's count is rebuilt from metered usage
        refused = await client.post("/api/v1/events/inventory", json=batch(7, 1), headers=bearer(key))

        body = assert_problem(refused, 429, "quota-exceeded")
        assert (body["quota"], body["limit"], body["used"]) == ("events_per_month", 5, 6)
        month_end = period_at(clock.now()).ends_at
        assert int(refused.headers["retry-after"]) == int((month_end - clock.now()).total_seconds()) + (
            (month_end - clock.now()).total_seconds() % 1 > 0
        )
        # nothing of the refused batch was stored, and everything accepted before is still queued
        assert await count(db, IngressEvent, IngressEvent.tenant_id == world.tenant_a1.id) == 6
        assert await count(db, QueuedDelivery) == queued
        # another retailer is not affected
        other_batch = {"items": [{"sku": "SKU-001", "location": "WH1", "on_hand": 1}]}
        assert (
            await client.post("/api/v1/events/inventory", json=other_batch, headers=bearer(other))
        ).status_code == 202

        async with db.transaction(DbScope.system()) as session:
            levels = sorted((await session.scalars(select(QuotaNotice.level))).all())
        assert levels == ["hard", "soft"]
        assert await send_notices(settings, db, redis, clock) == ["admin@alpha.example"] * 2

    async def test_the_retailer_sees_a_banner(
        self,
        alpha: AsyncTestClient[Any],
        world: World,
        db: Database,
        clock: FrozenClock,
    ) -> None:
        quotas = Quotas(events_per_month=Quota(soft=2, hard=100))
        await factories.put_on_plan(db, world.tenant_a1, "small", quotas, clock.now())
        key = await factories.make_api_key(db, world.tenant_a1, SCOPES)
        await sign_in(alpha, world.users["retailer_admin_a1"].email, PASSWORD)
        assert "quota-banner" not in (await alpha.get("/health")).text

        items = [{"sku": f"SKU-{n:03d}", "location": "WH1", "on_hand": 10} for n in range(1, 4)]
        assert (
            await alpha.post("/api/v1/events/inventory", json={"items": items}, headers=bearer(key))
        ).status_code == 202

        page = await alpha.get("/health")  # the same client: one app, one lifespan
        assert "quota-banner" in page.text
        assert "3 events accepted this month (warning at 2, limit 100)" in page.text
        assert "quota-banner" in (await alpha.get("/usage")).text


async def wire_stock(client: AsyncTestClient[Any], key: str) -> None:
    """A stock flow to one connection, so accepted events queue deliveries."""
    await add_stock_flow(client, key, [await add_connection(client, key, "https://shop.example", "shop")])
