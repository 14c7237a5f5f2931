"""Price changes through the API to a destination: guards, a newest-version-wins store, and future prices
published at their effective time by the sweep rather than by a nightly job."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from app.clock import FrozenClock
from app.database.engine import Database
from app.delivery.service import Deliverer
from app.flows import publish
from app.settings import Settings
from tests.app.api.calls import bearer
from tests.app.sync.conftest import Shop, Wiring, deliver_all
from tests.app.sync.test_delivery_worker import relay_and_work
from tests.app.sync.test_sources import connect, save_recipe

WRITES = {"prices": {"path": "/prices/{sku}", "method": "PUT"}}


async def price_flow(client: AsyncTestClient[Any], key: str, shop: Shop, **settings: Any) -> Wiring:
    destination = await connect(
        client, key, "web shop", "rest", {"base_url": shop.url, "api_key": "sandbox-key", "writes": WRITES}
    )
    recipe = await save_recipe(client, key, "web prices", "rest", "prices", "outbound")
    response = await client.post(
        "/api/v1/flows",
        json={
            "name": "prices to the web shop",
            "domain": "prices",
            "settings": {"batch_window_seconds": 2, **settings},
            "destinations": [{"connection_id": destination, "recipe_id": recipe}],
        },
        headers=bearer(key),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return Wiring(body["id"], body["destinations"][0]["id"], destination, "web prices")


def shop_price(shop: Shop, sku: str, price_list: str = "default") -> str | None:
    row = shop.store.prices.get(f"{sku}:{price_list}")
    return None if row is None else str(row["amount"])


async def push_prices(client: AsyncTestClient[Any], key: str, items: list[dict[str, Any]]) -> Any:
    response = await client.post("/api/v1/events/prices", json={"items": items}, headers=bearer(key))
    assert response.status_code == 202, response.text
    return response.json()


class TestPriceSync:
    async def test_guards_give_reasons(self, client: AsyncTestClient[Any], key: str, shop: Shop) -> None:
        await price_flow(client, key, shop, price_floor="1.00")
        body = await push_prices(
            client,
            key,
            [
                {"sku": "SKU-001", "amount": "-5", "currency": "EUR"},
                {"sku": "SKU-001", "amount": "5", "currency": "EUX"},
                {"sku": "SKU-001", "amount": "0.50", "currency": "EUR"},
                {"sku": "SKU-002", "amount": "24.90", "currency": "EUR"},
            ],
        )
        assert body["accepted"] == 1
        assert [(e["index"], e["field"]) for e in body["errors"]] == [
            (0, "amount"),
            (1, "currency"),
            (2, "amount"),
        ]
        assert "below the floor 1.00" in body["errors"][2]["reason"]

    async def test_newest_version_wins_and_reaches_the_shop(
        self, client: AsyncTestClient[Any], key: str, shop: Shop, deliverer: Deliverer, clock: FrozenClock
    ) -> None:
        wiring = await price_flow(client, key, shop)
        base = {"sku": "SKU-003", "currency": "EUR", "source": "erp", "source_id": "SKU-003"}
        await push_prices(client, key, [base | {"amount": "12.00", "source_version": 3}])
        stale = await push_prices(client, key, [base | {"amount": "9.00", "source_version": 2}])
        assert stale["stale"] == 1
        await deliver_all(deliverer, wiring, clock, after=3)
        assert shop_price(shop, "SKU-003") == "12.00"
        listed = await client.get("/api/v1/prices?sku=SKU-003", headers=bearer(key))
        assert [p["amount"] for p in listed.json()["items"]] == ["12"]

    async def test_a_future_price_is_published_at_its_effective_time(
        self, client: AsyncTestClient[Any], key: str, shop: Shop, deliverer: Deliverer, clock: FrozenClock
    ) -> None:
        wiring = await price_flow(client, key, shop)
        starts = clock.now() + timedelta(hours=2)
        await push_prices(
            client,
            key,
            [
                {"sku": "SKU-004", "amount": "59.00", "currency": "EUR"},
                {
                    "sku": "SKU-004",
                    "amount": "44.00",
                    "currency": "EUR",
                    "effective_from": starts.isoformat(),
                },
            ],
        )
        await deliver_all(deliverer, wiring, clock, after=3)
        assert shop_price(shop, "SKU-004") == "59.00"
        await deliver_all(deliverer, wiring, clock, after=3600)
        assert shop_price(shop, "SKU-004") == "59.00"  # not yet
        report = await deliver_all(deliverer, wiring, clock, after=3600)
        assert report.delivered == 1
        assert shop_price(shop, "SKU-004") == "44.00"

    async def test_full_run_republishes_every_price(
        self,
        client: AsyncTestClient[Any],
        key: str,
        shop: Shop,
        deliverer: Deliverer,
        clock: FrozenClock,
        settings: Settings,
        db: Database,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(publish, "PUBLISH_CHUNK", 3)  # the list is read in three chunks
        wiring = await price_flow(client, key, shop)
        await push_prices(
            client, key, [{"sku": f"SKU-00{n}", "amount": f"{n}.00", "currency": "EUR"} for n in range(1, 8)]
        )
        await deliver_all(deliverer, wiring, clock, after=3)
        shop.store.prices.clear()  # the shop lost its prices
        run = await client.post(
            f"/api/v1/flows/{wiring.flow_id}/runs", json={"kind": "full"}, headers=bearer(key)
        )
        assert run.status_code == 202
        assert run.json()["status"] == "queued"
        await relay_and_work(settings, db)  # a worker queues the whole price list
        done = (await client.get(f"/api/v1/runs/{run.json()['id']}", headers=bearer(key))).json()
        assert (done["status"], done["read"]) == ("succeeded", 7)
        await deliver_all(deliverer, wiring, clock, after=3)
        assert {shop_price(shop, f"SKU-00{n}") for n in range(1, 8)} == {f"{n}.00" for n in range(1, 8)}


class TestMarginRule:
    async def test_a_price_under_the_minimum_margin_is_refused_with_the_cost(
        self, client: AsyncTestClient[Any], key: str, shop: Shop
    ) -> None:
        await price_flow(client, key, shop, min_margin_percent="25")
        items = await client.post(
            "/api/v1/events/items",
            json={
                "items": [
                    {
                        "sku": "SKU-005",
                        "title": "Brass lamp",
                        "unit_cost": {"amount": "60.00", "currency": "EUR"},
                    }
                ]
            },
            headers=bearer(key),
        )
        assert items.status_code == 202, items.text
        assert items.json()["accepted"] == 1
        body = await push_prices(
            client,
            key,
            [
                {"sku": "SKU-005", "amount": "75.00", "currency": "EUR"},  # 20 % margin
                {"sku": "SKU-005", "amount": "89.00", "currency": "EUR", "price_list": "retail"},  # 32.6 %
                {"sku": "SKU-006", "amount": "1.00", "currency": "EUR"},  # no known cost: no rule to apply
            ],
        )
        assert body["accepted"] == 2
        assert body["errors"] == [
            {
                "index": 0,
                "field": "amount",
                "reason": "margin 20.0% over the unit cost 60 EUR is below the minimum 25%"
                " of flow 'prices to the web shop'",
            }
        ]
