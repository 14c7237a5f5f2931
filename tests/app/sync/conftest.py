"""A retailer wired end to end for sync tests: a REST sandbox as the destination, a connection to it,
the default outbound stock recipe, and an inventory flow; deliveries run as a worker would run them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from app.clock import FrozenClock
from app.database.engine import Database
from app.delivery.service import Deliverer, DeliveryReport
from app.settings import Settings
from app.worker import QUEUE_NAME
from connectors.recipes import default_recipe
from connectors.sandboxes import rest
from tests import factories
from tests.app.api.calls import bearer
from tests.connectors.serving import serve
from tests.factories import World

SCOPES = [
    "connections:write",
    "connections:read",
    "recipes:write",
    "recipes:read",
    "flows:write",
    "flows:read",
    "events:write",
    "stock:read",
    "prices:read",
    "dead_letters:read",
    "dead_letters:write",
]
WRITES = {"inventory": {"path": "/stock/batch", "mode": "batch", "batch_field": "items", "id_field": "id"}}


@dataclass
class Shop:
    """The destination sandbox: its URL, its in-memory store, and a client for its control routes."""

    url: str
    store: Any
    control: httpx.AsyncClient

    def on_hand(self, sku: str, location: str = "WEB") -> int | None:
        row = self.store.stock.get(f"{sku}:{location}")
        return None if row is None else int(row["on_hand"])

    async def stock_writes(self) -> int:
        log = (await self.control.get("/_sandbox/requests")).json()
        return sum(1 for entry in log if entry["path"] == "/stock/batch" and entry["status"] is None)

    async def write_received(self) -> bool:
        """A stock write has reached the shop (it is logged on arrival, before any injected delay)."""
        return await self.stock_writes() > 0

    async def fault(self, **spec: Any) -> None:
        (await self.control.post("/_sandbox/faults", json=spec)).raise_for_status()


@pytest.fixture
async def shop() -> AsyncIterator[Shop]:
    app = rest.create_app()
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as control:
        yield Shop(url, app.state.store, control)


@pytest.fixture
async def key(world: World, db: Database) -> str:
    return await factories.make_api_key(db, world.tenant_a1, SCOPES)


@dataclass
class Wiring:
    flow_id: str
    destination_id: str
    connection_id: str
    recipe_name: str


async def add_connection(
    client: AsyncTestClient[Any], key: str, base_url: str, name: str = "web shop", **fields: Any
) -> str:
    """A REST connection to the shop at ``base_url`` (``fields``: ``batch_size``…); its id."""
    connection = await client.post(
        "/api/v1/connections",
        json={
            "name": name,
            "template": "rest",
            "config": {"base_url": base_url, "api_key": "sandbox-key", "writes": WRITES},
            **fields,
        },
        headers=bearer(key),
    )
    assert connection.status_code == 201, connection.text
    return str(connection.json()["id"])


async def add_stock_flow(
    client: AsyncTestClient[Any], key: str, connection_ids: list[str], **settings: Any
) -> dict[str, Any]:
    """The default outbound stock recipe and a stock flow to each connection (allocated to ``WEB``);
    the flow as the API answered it."""
    recipe = await client.post(
        "/api/v1/recipes",
        json={
            "name": "web stock",
            "domain": "inventory",
            "spec": default_recipe("rest", "inventory", "outbound"),
        },
        headers=bearer(key),
    )
    assert recipe.status_code == 201, recipe.text
    flow = await client.post(
        "/api/v1/flows",
        json={
            "name": "stock to the web shop",
            "domain": "inventory",
            "settings": {"batch_window_seconds": 5, "low_stock_threshold": 3, **settings},
            "destinations": [
                {
                    "connection_id": connection_id,
                    "recipe_id": recipe.json()["recipe"]["id"],
                    "allocation": {"location_code": "WEB"},
                }
                for connection_id in connection_ids
            ],
        },
        headers=bearer(key),
    )
    assert flow.status_code == 201, flow.text
    body: dict[str, Any] = flow.json()
    return body


async def wire(client: AsyncTestClient[Any], key: str, shop: Shop, **settings: Any) -> Wiring:
    """Connection → recipe → flow through the API, as a retailer would set it up."""
    connection_id = await add_connection(client, key, shop.url)
    body = await add_stock_flow(client, key, [connection_id], **settings)
    return Wiring(body["id"], body["destinations"][0]["id"], connection_id, "web stock")


def job_ctx(settings: Settings, db: Database, redis: Redis, clock: FrozenClock) -> dict[str, Any]:
    """What a worker hands its jobs (``ctx``), built from the test's services and clock."""
    return {"settings": settings, "db": db, "redis": redis, "clock": clock, "queue_name": QUEUE_NAME}


@pytest.fixture
def deliverer(settings: Settings, db: Database, redis: Redis, clock: FrozenClock) -> Deliverer:
    return Deliverer(settings, db, redis, clock.now)


async def deliver_all(
    deliverer: Deliverer, wiring: Wiring, clock: FrozenClock, *, after: float = 0
) -> DeliveryReport:
    """Move the clock ``after`` seconds on, then deliver whatever is due, as the worker's sweep would."""
    import uuid

    clock.advance(timedelta(seconds=after))
    return await deliverer.deliver_due(uuid.UUID(wiring.destination_id))


async def push(client: AsyncTestClient[Any], key: str, items: list[dict[str, Any]], **headers: str) -> Any:
    return await client.post(
        "/api/v1/events/inventory", json={"items": items}, headers={**bearer(key), **headers}
    )
