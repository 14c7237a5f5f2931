"""Each destination sells its own allocation of the stock: pooled locations, a share, a safety stock —
and a duplicated, reordered stream ends in the true state at every destination."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from app.clock import FrozenClock
from app.delivery.service import Deliverer
from app.flows.settings import Allocation
from connectors.sandboxes import rest
from tests.app.api.calls import bearer
from tests.app.sync.conftest import WRITES, Shop, push
from tests.app.sync.test_sources import connect, save_recipe
from tests.connectors.serving import serve

WEB = {"location_code": "WEB", "share": "0.5", "safety_stock": 2}
MARKETPLACE = {"location_code": "AMZ", "locations": ["WH1"]}


class TestAllocationRule:
    def test_pooled_share_and_safety_stock(self) -> None:
        rule = Allocation(locations=["WH1", "WH2"], share=Decimal("0.5"), safety_stock=2)
        assert rule.channel_available({"WH1": 10, "WH2": 7, "STORE": 100}) == 6  # floor(17 × 0.5) − 2
        assert rule.channel_available({"WH1": 1}) == 0  # never below zero
        assert Allocation().channel_available({"A": 3, "B": 4}) == 7  # all locations, all of it


@pytest.fixture
async def marketplace() -> AsyncIterator[Shop]:
    app = rest.create_app()
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as control:
        yield Shop(url, app.state.store, control)


class TestEveryDestination:
    async def test_duplicated_reordered_stream_ends_true_at_each_destination(
        self,
        client: AsyncTestClient[Any],
        key: str,
        shop: Shop,
        marketplace: Shop,
        deliverer: Deliverer,
        clock: FrozenClock,
    ) -> None:
        recipe = await save_recipe(client, key, "stock out", "rest", "inventory", "outbound")
        destinations = []
        for name, target, allocation in (("web", shop, WEB), ("marketplace", marketplace, MARKETPLACE)):
            connection = await connect(
                client,
                key,
                name,
                "rest",
                {"base_url": target.url, "api_key": "sandbox-key", "writes": WRITES},
            )
            destinations.append({"connection_id": connection, "recipe_id": recipe, "allocation": allocation})
        flow = await client.post(
            "/api/v1/flows",
            json={"name": "stock out", "domain": "inventory", "destinations": destinations},
            headers=bearer(key),
        )
        assert flow.status_code == 201, flow.text
        ids = [uuid.UUID(d["id"]) for d in flow.json()["destinations"]]

        rng = random.Random(9)
        skus = [f"SKU-00{n}" for n in range(1, 8)]
        events = [
            {
                "sku": sku,
                "location": location,
                "on_hand": rng.randint(0, 40),
                "source_id": f"{sku}@{location}",
                "source_version": version,
            }
            for sku in skus
            for location in ("WH1", "WH2")
            for version in range(1, 11)
        ]
        latest: dict[tuple[str, str], int] = {
            (str(e["sku"]), str(e["location"])): int(e["on_hand"])
            for e in events
            if e["source_version"] == 10
        }
        stream = events + rng.sample(events, len(events) // 5)
        rng.shuffle(stream)
        for start in range(0, len(stream), 40):
            await push(client, key, stream[start : start + 40])
        clock.advance(timedelta(seconds=10))
        for destination in ids:
            await deliverer.deliver_due(destination)
        web = Allocation(location_code="WEB", share=Decimal("0.5"), safety_stock=2)
        amazon = Allocation(locations=["WH1"], location_code="AMZ")
        for sku in skus:
            by_location = {loc: latest[(sku, loc)] for loc in ("WH1", "WH2")}
            assert shop.on_hand(sku, "WEB") == web.channel_available(by_location), sku
            assert marketplace.on_hand(sku, "AMZ") == amazon.channel_available(by_location), sku
