"""Orders from a channel move stock once per step — reserve, then commit or release — and every
channel's availability follows."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from app.clock import FrozenClock
from app.delivery.service import Deliverer
from tests.app.api.calls import bearer
from tests.app.sync.conftest import Shop, Wiring, deliver_all, push, wire
from tests.app.sync.test_sources import connect, save_recipe


def order(status: str, version: int, quantity: int = 3) -> dict[str, Any]:
    return {
        "order_id": "WEB-1001",
        "channel": "web",
        "currency": "EUR",
        "status": status,
        "source": "web",
        "source_id": "WEB-1001",
        "source_version": version,
        "lines": [{"sku": "SKU-005", "quantity": quantity, "unit_price": "89.00", "location": "WH1"}],
    }


async def push_orders(client: AsyncTestClient[Any], key: str, items: list[dict[str, Any]]) -> Any:
    response = await client.post("/api/v1/events/orders", json={"items": items}, headers=bearer(key))
    assert response.status_code == 202, response.text
    return response.json()


async def stock(client: AsyncTestClient[Any], key: str) -> tuple[int, int]:
    rows = (await client.get("/api/v1/stock?sku=SKU-005", headers=bearer(key))).json()["items"]
    return rows[0]["on_hand"], rows[0]["reserved"]


class TestOrderStock:
    async def test_reserve_then_ship_moves_stock_once(
        self, client: AsyncTestClient[Any], key: str, shop: Shop, deliverer: Deliverer, clock: FrozenClock
    ) -> None:
        wiring = await wire(client, key, shop)
        await push(client, key, [{"sku": "SKU-005", "location": "WH1", "on_hand": 20}])
        await push_orders(client, key, [order("confirmed", 1)])
        again = await push_orders(client, key, [order("confirmed", 1)])
        assert again["duplicate"] == 1
        assert await stock(client, key) == (20, 3)
        await deliver_all(deliverer, wiring, clock, after=6)
        assert shop.on_hand("SKU-005") == 17
        shipped = await push_orders(client, key, [order("shipped", 2)])
        assert shipped["accepted"] == 1
        assert await stock(client, key) == (17, 0)
        late = await push_orders(client, key, [order("confirmed", 1, quantity=5)])  # an older state, resent
        assert late["duplicate"] + late["stale"] == 1
        assert await stock(client, key) == (17, 0)

    async def test_cancel_releases(self, client: AsyncTestClient[Any], key: str, shop: Shop) -> None:
        await wire(client, key, shop)
        await push(client, key, [{"sku": "SKU-005", "location": "WH1", "on_hand": 10}])
        await push_orders(client, key, [order("pending", 1)])
        assert await stock(client, key) == (10, 3)
        await push_orders(client, key, [order("cancelled", 2)])
        assert await stock(client, key) == (10, 0)
        await push_orders(client, key, [order("cancelled", 3)])
        assert await stock(client, key) == (10, 0)

    async def test_last_unit_sold_goes_out_at_once(
        self, client: AsyncTestClient[Any], key: str, shop: Shop, deliverer: Deliverer, clock: FrozenClock
    ) -> None:
        wiring = await wire(client, key, shop)
        await push(client, key, [{"sku": "SKU-005", "location": "WH1", "on_hand": 50}])
        await deliver_all(deliverer, wiring, clock, after=6)
        assert shop.on_hand("SKU-005") == 50
        await push_orders(client, key, [order("confirmed", 1, quantity=48)])
        report = await deliver_all(deliverer, wiring, clock)  # no waiting: 2 left is below the threshold of 3
        assert report.delivered == 1
        assert shop.on_hand("SKU-005") == 2


class TestOrderStatusBack:
    async def test_status_changes_reach_the_channel(
        self, client: AsyncTestClient[Any], key: str, shop: Shop, deliverer: Deliverer, clock: FrozenClock
    ) -> None:
        """The ERP reports the order shipped; the orders flow sends the new status to the web shop."""
        channel = await connect(
            client,
            key,
            "web shop orders",
            "rest",
            {
                "base_url": shop.url,
                "api_key": "sandbox-key",
                "writes": {"orders": {"path": "/orders/{order_id}", "method": "PUT"}},
            },
        )
        recipe = await save_recipe(client, key, "order status", "rest", "orders", "outbound")
        flow = await client.post(
            "/api/v1/flows",
            json={
                "name": "order status to the shop",
                "domain": "orders",
                "destinations": [{"connection_id": channel, "recipe_id": recipe}],
            },
            headers=bearer(key),
        )
        assert flow.status_code == 201, flow.text
        wiring = Wiring(flow.json()["id"], flow.json()["destinations"][0]["id"], channel, "order status")
        await push_orders(client, key, [order("confirmed", 1)])
        await deliver_all(deliverer, wiring, clock)
        assert shop.store.orders["WEB-1001"]["status"] == "confirmed"
        await push_orders(client, key, [order("shipped", 2)])
        await deliver_all(deliverer, wiring, clock)
        assert shop.store.orders["WEB-1001"]["status"] == "shipped"
        assert shop.store.orders["WEB-1001"]["lines"] == [
            {"sku": "SKU-005", "quantity": 3, "unit_price": "89.00"}
        ]
