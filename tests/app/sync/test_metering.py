"""Usage is counted once per unit of work, in the work's own transaction: duplicated events, retried
deliveries and a worker that dies holding a batch leave the totals equal to the work done."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar.testing import AsyncTestClient

from app.clock import FrozenClock
from app.database.engine import Database
from app.delivery.service import Deliverer, claim
from app.settings import Settings
from tests import factories
from tests.app.api.calls import assert_problem, bearer
from tests.app.sync.conftest import Shop, deliver_all, push, wire
from tests.factories import World

SKUS = [f"SKU-00{n}" for n in range(1, 8)]


async def usage(client: AsyncTestClient[Any], key: str, period: str) -> dict[str, int]:
    response = await client.get("/api/v1/usage", params={"period": period}, headers=bearer(key))
    assert response.status_code == 200, response.text
    totals: dict[str, int] = response.json()["usage"]
    return totals


class TestMetering:
    async def test_duplicates_retries_and_a_dead_worker_count_once(
        self,
        client: AsyncTestClient[Any],
        key: str,
        shop: Shop,
        deliverer: Deliverer,
        clock: FrozenClock,
        db: Database,
        settings: Settings,
        world: World,
    ) -> None:
        reader = await factories.make_api_key(db, world.tenant_a1, ["usage:read"])
        period = clock.now().strftime("%Y-%m")
        wiring = await wire(client, key, shop)
        events = [{"sku": sku, "location": "WH1", "on_hand": 30, "source_version": 1} for sku in SKUS]
        assert (await push(client, key, events)).json()["accepted"] == 7
        again = await push(client, key, events)  # the same events resent: duplicates, not new work
        assert again.json()["accepted"] == 0
        assert (await usage(client, reader, period))["events_accepted"] == 7

        # a worker claims the batch and dies before settling it: nothing is counted for it
        clock.advance(timedelta(seconds=6))
        _, held = await claim(
            db, uuid.UUID(wiring.destination_id), clock.now(), 100, settings.delivery_lease_seconds
        )
        assert len(held) == 7
        # the destination then fails once (retried later), and finally takes everything
        await shop.fault(status=503, count=3)
        failed = await deliver_all(deliverer, wiring, clock, after=settings.delivery_lease_seconds + 1)
        assert failed.retried == 7
        done = await deliver_all(deliverer, wiring, clock, after=600)
        assert done.delivered == 7
        totals = await usage(client, reader, period)
        # API calls: the three set-up calls, two pushes and the two usage reads (each counts itself)
        assert totals == {
            "records_synced": 7,
            "events_accepted": 7,
            "delivery_runs": 2,
            "api_calls": 7,
            "active_connections": 1,
        }

    async def test_period_is_checked_and_other_months_are_empty(
        self, client: AsyncTestClient[Any], db: Database, world: World
    ) -> None:
        reader = await factories.make_api_key(db, world.tenant_a1, ["usage:read"])
        assert await usage(client, reader, "1999-01") == {
            "records_synced": 0,
            "events_accepted": 0,
            "delivery_runs": 0,
            "api_calls": 0,
            "active_connections": 0,
        }
        response = await client.get("/api/v1/usage", params={"period": "2026-13"}, headers=bearer(reader))
        body = assert_problem(response, 422, "validation-failed")
        assert body["errors"] == [{"path": "period", "reason": "write YYYY-MM"}]


class TestApiCalls:
    async def test_each_authenticated_call_counts_once(
        self, client: AsyncTestClient[Any], db: Database, world: World
    ) -> None:
        reader = await factories.make_api_key(db, world.tenant_a1, ["usage:read"])
        other = await factories.make_api_key(db, world.tenant_b1, ["usage:read"])
        for _ in range(3):
            assert (await client.get("/api/v1/usage", headers=bearer(reader))).status_code == 200
        # refused for scope, still a call the key made; an unknown key is nobody's call
        assert (await client.get("/api/v1/connections", headers=bearer(reader))).status_code == 403
        assert (await client.get("/api/v1/usage", headers=bearer("ss_live_unknown"))).status_code == 401
        assert (await client.get("/api/v1/usage", headers=bearer(other))).status_code == 200
        assert (await usage(client, reader, _this_month()))["api_calls"] == 5
        assert (await usage(client, other, _this_month()))["api_calls"] == 2


class TestActiveConnections:
    async def test_the_period_figure_is_the_most_held_at_once(
        self, client: AsyncTestClient[Any], db: Database, world: World, clock: FrozenClock
    ) -> None:
        key = await factories.make_api_key(db, world.tenant_a1, ["connections:write", "usage:read"])
        clock.set(datetime(2026, 3, 10, 12, tzinfo=UTC))
        made = []
        for n in range(3):
            response = await client.post(
                "/api/v1/connections",
                json={"name": f"hook {n}", "template": "webhook", "config": {"secret": "s" * 24}},
                headers=bearer(key),
            )
            assert response.status_code == 201, response.text
            made.append(response.json()["id"])
        clock.advance(timedelta(days=5))
        for connection_id in made[:2]:
            gone = await client.delete(f"/api/v1/connections/{connection_id}", headers=bearer(key))
            assert gone.status_code == 204
        assert (await usage(client, key, "2026-03"))["active_connections"] == 3
        # April starts with the one left, which counts though nothing changed in April
        assert (await usage(client, key, "2026-04"))["active_connections"] == 1
        assert (await usage(client, key, "2026-02"))["active_connections"] == 0


class TestForecast:
    async def test_sums_scale_with_the_time_gone_by(
        self, client: AsyncTestClient[Any], db: Database, world: World, clock: FrozenClock
    ) -> None:
        key = await factories.make_api_key(db, world.tenant_a1, ["usage:read"])
        clock.set(datetime(2026, 4, 8, 12, tzinfo=UTC))  # a quarter of April (30 days) gone by
        for _ in range(4):
            await client.get("/api/v1/usage", headers=bearer(key))
        response = await client.get("/api/v1/usage", headers=bearer(key))
        body = response.json()
        assert body["period"] == "2026-04"
        assert body["elapsed"] == 0.25
        assert body["usage"]["api_calls"] == 5
        assert body["forecast"]["api_calls"] == 20
        # a period over forecasts what it used
        clock.set(datetime(2026, 5, 2, tzinfo=UTC))
        past = (await client.get("/api/v1/usage?period=2026-04", headers=bearer(key))).json()
        assert past["forecast"] == past["usage"]
        assert past["elapsed"] == 1.0


def _this_month() -> str:
    return datetime.now(UTC).strftime("%Y-%m")
