"""Usage is counted once per unit of work, in the work's own transaction: duplicated events, retried
deliveries and a worker that dies holding a batch leave the totals equal to the work done."""

from __future__ import annotations

import uuid
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
        clock.advance(__import__("datetime").timedelta(seconds=6))
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
        assert totals == {"records_synced": 7, "events_accepted": 7, "delivery_runs": 2}

    async def test_period_is_checked_and_other_months_are_empty(
        self, client: AsyncTestClient[Any], db: Database, world: World
    ) -> None:
        reader = await factories.make_api_key(db, world.tenant_a1, ["usage:read"])
        assert await usage(client, reader, "1999-01") == {
            "records_synced": 0,
            "events_accepted": 0,
            "delivery_runs": 0,
        }
        response = await client.get("/api/v1/usage", params={"period": "2026-13"}, headers=bearer(reader))
        body = assert_problem(response, 422, "validation-failed")
        assert body["errors"] == [{"path": "period", "reason": "write YYYY-MM"}]
