"""Reconciliation reads the destination back, records drift on the run and corrects it."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from app.clock import FrozenClock
from app.database.engine import Database
from app.delivery.service import Deliverer
from app.settings import Settings
from tests.app.api.calls import bearer
from tests.app.sync.conftest import WRITES, Shop, Wiring, deliver_all, push
from tests.app.sync.test_delivery_worker import relay_and_work
from tests.app.sync.test_sources import connect, save_recipe


async def readable_flow(client: AsyncTestClient[Any], key: str, shop: Shop) -> Wiring:
    config = {
        "base_url": shop.url,
        "api_key": "sandbox-key",
        "writes": WRITES,
        "reads": {"inventory": {"path": "/page/stock"}},
    }
    destination = await connect(client, key, "web shop", "rest", config)
    recipe = await save_recipe(client, key, "web stock", "rest", "inventory", "outbound")
    response = await client.post(
        "/api/v1/flows",
        json={
            "name": "stock to the web shop",
            "domain": "inventory",
            "settings": {"batch_window_seconds": 1, "reconcile_schedule": "0 * * * *"},
            "destinations": [
                {"connection_id": destination, "recipe_id": recipe, "allocation": {"location_code": "WEB"}}
            ],
        },
        headers=bearer(key),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return Wiring(body["id"], body["destinations"][0]["id"], destination, "web stock")


class TestReconcile:
    async def test_drift_is_reported_and_corrected(
        self,
        client: AsyncTestClient[Any],
        key: str,
        shop: Shop,
        deliverer: Deliverer,
        clock: FrozenClock,
        settings: Settings,
        db: Database,
    ) -> None:
        wiring = await readable_flow(client, key, shop)
        await push(
            client, key, [{"sku": f"SKU-00{n}", "location": "WH1", "on_hand": 10 * n} for n in range(1, 5)]
        )
        await deliver_all(deliverer, wiring, clock, after=2)
        assert shop.on_hand("SKU-002") == 20
        shop.store.stock["SKU-002:WEB"]["on_hand"] = 3  # someone edited the shop by hand
        del shop.store.stock["SKU-004:WEB"]  # and lost a row
        started = await client.post(
            f"/api/v1/flows/{wiring.flow_id}/runs", json={"kind": "reconcile"}, headers=bearer(key)
        )
        assert started.status_code == 202, started.text
        await relay_and_work(settings, db)  # reads back, records drift, queues corrections (urgent)
        await relay_and_work(settings, db)  # delivers them
        run = (await client.get(f"/api/v1/runs/{started.json()['id']}", headers=bearer(key))).json()
        assert run["status"] == "succeeded", run
        drift = sorted(run["details"]["drift"], key=lambda d: d["sku"])
        assert [(d["sku"], d["expected"], d["found"]) for d in drift] == [
            ("SKU-002", 20, 3),
            ("SKU-004", 40, None),
        ]
        assert run["written"] == 2
        assert (shop.on_hand("SKU-002"), shop.on_hand("SKU-004")) == (20, 40)

    async def test_reconcile_schedule_is_checked(
        self, client: AsyncTestClient[Any], key: str, shop: Shop
    ) -> None:
        wiring = await readable_flow(client, key, shop)
        response = await client.patch(
            f"/api/v1/flows/{wiring.flow_id}",
            json={"settings": {"reconcile_schedule": "every hour"}},
            headers=bearer(key),
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["path"] == "settings"
