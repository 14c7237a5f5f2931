"""Flows fed by a source connection: signed webhooks pushed to /hooks/{id}, and pulls (full, then
incremental from the stored cursor) run by a worker."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from app.clock import FrozenClock
from app.database.engine import Database
from app.delivery.service import Deliverer
from app.settings import Settings
from connectors.recipes import default_recipe
from connectors.sandboxes import rest
from connectors.sdk.webhooks import WebhookScheme, sign
from tests.app.api.calls import assert_problem, bearer
from tests.app.sync.conftest import WRITES, Shop, Wiring, deliver_all
from tests.app.sync.test_delivery_worker import relay_and_work
from tests.connectors.serving import serve

SECRET = "a-webhook-secret-of-some-length"


async def save_recipe(
    client: AsyncTestClient[Any], key: str, name: str, template: str, domain: str, direction: str
) -> str:
    response = await client.post(
        "/api/v1/recipes",
        json={"name": name, "domain": domain, "spec": default_recipe(template, domain, direction)},
        headers=bearer(key),
    )
    assert response.status_code == 201, response.text
    recipe_id: str = response.json()["recipe"]["id"]
    return recipe_id


async def connect(
    client: AsyncTestClient[Any], key: str, name: str, template: str, config: dict[str, Any]
) -> str:
    response = await client.post(
        "/api/v1/connections",
        json={"name": name, "template": template, "config": config},
        headers=bearer(key),
    )
    assert response.status_code == 201, response.text
    connection_id: str = response.json()["id"]
    return connection_id


async def sourced_flow(
    client: AsyncTestClient[Any], key: str, shop: Shop, source: tuple[str, str], trigger: str = "event"
) -> Wiring:
    destination = await connect(
        client, key, "web shop", "rest", {"base_url": shop.url, "api_key": "sandbox-key", "writes": WRITES}
    )
    outbound = await save_recipe(client, key, "web stock", "rest", "inventory", "outbound")
    response = await client.post(
        "/api/v1/flows",
        json={
            "name": "stock in",
            "domain": "inventory",
            "trigger": trigger,
            "source": {"connection_id": source[0], "recipe_id": source[1]},
            "settings": {"low_stock_threshold": 1000},
            "destinations": [
                {"connection_id": destination, "recipe_id": outbound, "allocation": {"location_code": "WEB"}}
            ],
        },
        headers=bearer(key),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return Wiring(body["id"], body["destinations"][0]["id"], destination, "web stock")


class TestWebhookSource:
    @pytest.fixture
    async def hook(self, client: AsyncTestClient[Any], key: str) -> tuple[str, str]:
        connection = await connect(client, key, "store pushes", "webhook", {"secret": SECRET})
        recipe = await save_recipe(client, key, "pushed stock", "webhook", "inventory", "inbound")
        return connection, recipe

    async def test_signed_delivery_is_ingested_and_delivered(
        self,
        client: AsyncTestClient[Any],
        key: str,
        shop: Shop,
        hook: tuple[str, str],
        deliverer: Deliverer,
        clock: FrozenClock,
    ) -> None:
        wiring = await sourced_flow(client, key, shop, hook)
        body = json.dumps(
            {"events": [{"id": "evt-1", "sku": "SKU-001", "location": "WH1", "on_hand": 12}]}
        ).encode()
        signature = sign(WebhookScheme(), SECRET, body, int(clock.now().timestamp()))
        headers = {"X-Shelfsync-Signature": signature, "Content-Type": "application/json"}
        response = await client.post(f"/hooks/{hook[0]}", content=body, headers=headers)
        assert response.status_code == 202, response.text
        assert (response.json()["received"], response.json()["accepted"]) == (1, 1)
        again = await client.post(f"/hooks/{hook[0]}", content=body, headers=headers)
        assert again.json()["duplicate"] == 1
        await deliver_all(deliverer, wiring, clock)
        assert shop.on_hand("SKU-001") == 12

    async def test_bad_signature_and_unknown_connection_look_the_same(
        self, client: AsyncTestClient[Any], key: str, hook: tuple[str, str], clock: FrozenClock
    ) -> None:
        body = b'{"events": [{"sku": "SKU-001", "location": "WH1", "on_hand": 1}]}'
        forged = sign(WebhookScheme(), "not-the-secret-at-all", body, int(clock.now().timestamp()))
        refused = await client.post(
            f"/hooks/{hook[0]}", content=body, headers={"X-Shelfsync-Signature": forged}
        )
        assert_problem(refused, 401, "invalid-signature")
        unknown = await client.post(
            "/hooks/00000000-0000-0000-0000-000000000000",
            content=body,
            headers={"X-Shelfsync-Signature": forged},
        )
        assert_problem(unknown, 401, "invalid-signature")
        stale = sign(WebhookScheme(), SECRET, body, int(clock.now().timestamp()) - 3600)
        late = await client.post(f"/hooks/{hook[0]}", content=body, headers={"X-Shelfsync-Signature": stale})
        assert_problem(late, 401, "invalid-signature")


class TestPulledSource:
    @pytest.fixture
    async def erp(self) -> AsyncIterator[tuple[str, Any]]:
        app = rest.create_app()
        async with serve(app) as url:
            yield url, app.state.store

    async def test_full_then_incremental_pull_reaches_the_destination(
        self,
        client: AsyncTestClient[Any],
        key: str,
        shop: Shop,
        erp: tuple[str, Any],
        settings: Settings,
        db: Database,
    ) -> None:
        url, store = erp
        source = await connect(
            client,
            key,
            "erp",
            "rest",
            {
                "base_url": url,
                "api_key": "sandbox-key",
                "reads": {"inventory": {"path": "/page/stock"}},
                "page_size": 3,
            },
        )
        recipe = await save_recipe(client, key, "erp stock", "rest", "inventory", "inbound")
        wiring = await sourced_flow(client, key, shop, (source, recipe), trigger="manual")
        started = await client.post(
            f"/api/v1/flows/{wiring.flow_id}/runs", json={"kind": "full"}, headers=bearer(key)
        )
        assert started.status_code == 202, started.text
        assert started.json()["status"] == "queued"
        await relay_and_work(settings, db)  # the pull, which queues urgent deliveries
        await relay_and_work(settings, db)  # the deliveries
        run = (await client.get(f"/api/v1/runs/{started.json()['id']}", headers=bearer(key))).json()
        assert run["status"] == "succeeded", run
        assert run["read"] == len(store.stock)
        expected: dict[str, int] = {}
        for row in store.stock.values():
            expected[row["sku"]] = expected.get(row["sku"], 0) + max(
                row["on_hand"] - row.get("reserved", 0), 0
            )
        assert {sku: shop.on_hand(sku) for sku in expected} == expected

        async with httpx.AsyncClient(base_url=url) as control:
            touched = await control.post("/_sandbox/rest/touch", json={"resource": "stock", "sku": "SKU-003"})
            assert touched.status_code == 200, touched.text
        again = await client.post(
            f"/api/v1/flows/{wiring.flow_id}/runs", json={"kind": "incremental"}, headers=bearer(key)
        )
        await relay_and_work(settings, db)
        second = (await client.get(f"/api/v1/runs/{again.json()['id']}", headers=bearer(key))).json()
        assert second["status"] == "succeeded", second
        assert 0 < second["read"] < run["read"]
