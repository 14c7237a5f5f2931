"""The worker's minute crons: scheduled pulls queue an incremental run when their time comes, and the
reconcile schedule fires once in its minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from litestar.testing import AsyncTestClient
from redis.asyncio import Redis
from sqlalchemy import select

from app.clock import FrozenClock
from app.database.engine import Database
from app.database.scope import DbScope
from app.flows.jobs import reconcile_due, schedule_pulls
from app.flows.models import Flow, Run
from app.outbox.models import OutboxMessage
from app.settings import Settings
from tests.app.api.calls import bearer
from tests.app.sync.conftest import WRITES, Shop, job_ctx
from tests.app.sync.test_sources import connect, save_recipe


async def runs_and_tasks(db: Database) -> tuple[list[tuple[str, str]], list[str]]:
    async with db.transaction(DbScope.system()) as session:
        runs = [
            (r.kind, r.status) for r in (await session.scalars(select(Run).order_by(Run.started_at))).all()
        ]
        tasks = list((await session.scalars(select(OutboxMessage.task).order_by(OutboxMessage.id))).all())
    return runs, tasks


class TestCrons:
    async def test_scheduled_pull_and_reconcile_fire_on_time(
        self,
        client: AsyncTestClient[Any],
        key: str,
        shop: Shop,
        settings: Settings,
        db: Database,
        redis: Redis,
    ) -> None:
        clock = FrozenClock(datetime(2026, 3, 2, 9, 58, 30, tzinfo=UTC))
        source = await connect(
            client,
            key,
            "erp",
            "rest",
            {"base_url": shop.url, "api_key": "sandbox-key", "reads": {"inventory": {"path": "/page/stock"}}},
        )
        destination = await connect(
            client, key, "web", "rest", {"base_url": shop.url, "api_key": "sandbox-key", "writes": WRITES}
        )
        inbound = await save_recipe(client, key, "erp stock", "rest", "inventory", "inbound")
        outbound = await save_recipe(client, key, "web stock", "rest", "inventory", "outbound")
        response = await client.post(
            "/api/v1/flows",
            json={
                "name": "hourly stock",
                "domain": "inventory",
                "trigger": "schedule",
                "schedule": "0 * * * *",
                "source": {"connection_id": source, "recipe_id": inbound},
                "settings": {"reconcile_schedule": "30 10 * * *"},
                "destinations": [{"connection_id": destination, "recipe_id": outbound}],
            },
            headers=bearer(key),
        )
        assert response.status_code == 201, response.text
        async with db.transaction(DbScope.system()) as session:
            flow = await session.scalar(select(Flow))
            assert flow is not None
            flow.next_run_at = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)

        assert await schedule_pulls(job_ctx(settings, db, redis, clock)) == "queued 0"  # 09:58:30, not yet
        clock.advance(timedelta(minutes=2))  # 10:00:30
        assert await schedule_pulls(job_ctx(settings, db, redis, clock)) == "queued 1"
        assert await schedule_pulls(job_ctx(settings, db, redis, clock)) == "queued 0"  # next one is 11:00
        async with db.transaction(DbScope.system()) as session:
            flow = await session.scalar(select(Flow))
            assert flow is not None
            assert flow.next_run_at == datetime(2026, 3, 2, 11, 0, tzinfo=UTC)

        clock.advance(timedelta(minutes=29, seconds=30))  # 10:30:00
        assert await reconcile_due(job_ctx(settings, db, redis, clock)) == "queued 1"
        clock.advance(timedelta(minutes=1))
        assert await reconcile_due(job_ctx(settings, db, redis, clock)) == "queued 0"
        runs, tasks = await runs_and_tasks(db)
        assert runs == [("incremental", "queued"), ("reconcile", "queued")]
        assert tasks == ["pull_flow", "reconcile_flow"]

    async def test_a_schedule_must_be_a_cron_expression(
        self, client: AsyncTestClient[Any], key: str, shop: Shop
    ) -> None:
        source = await connect(
            client,
            key,
            "erp",
            "rest",
            {"base_url": shop.url, "api_key": "sandbox-key", "reads": {"inventory": {"path": "/page/stock"}}},
        )
        destination = await connect(
            client, key, "web", "rest", {"base_url": shop.url, "api_key": "sandbox-key", "writes": WRITES}
        )
        inbound = await save_recipe(client, key, "erp stock", "rest", "inventory", "inbound")
        outbound = await save_recipe(client, key, "web stock", "rest", "inventory", "outbound")
        response = await client.post(
            "/api/v1/flows",
            json={
                "name": "bad",
                "domain": "inventory",
                "trigger": "schedule",
                "schedule": "hourly",
                "source": {"connection_id": source, "recipe_id": inbound},
                "destinations": [{"connection_id": destination, "recipe_id": outbound}],
            },
            headers=bearer(key),
        )
        assert response.status_code == 422
        assert [e["path"] for e in response.json()["errors"]] == ["schedule"]
