"""Sync facts for portal tests: flows set up through the API, delivery runs and dead letters written as
the engine writes them, so health pages and dead-letter pages have something true to show."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx

from app.database.engine import Database
from app.database.scope import DbScope
from app.delivery.models import DeadLetter
from app.flows.latency import histogram
from app.flows.models import Run
from connectors.recipes import default_recipe
from tests import factories
from tests.factories import World

SCOPES = ["connections:write", "recipes:write", "flows:write"]
LATENCY_MS = 840.0
"""Received → acknowledged for every record the seeded runs delivered."""


async def wire_flow(client: httpx.AsyncClient, key: str, name: str) -> tuple[uuid.UUID, uuid.UUID]:
    """A stock flow to a REST destination, set up through the API: (flow id, destination id)."""
    headers = {"Authorization": f"Bearer {key}"}
    connection = await client.post(
        "/api/v1/connections",
        json={
            "name": f"{name} shop",
            "template": "rest",
            "config": {"base_url": "https://shop.example", "api_key": "k"},
        },
        headers=headers,
    )
    recipe = await client.post(
        "/api/v1/recipes",
        json={
            "name": f"{name} stock",
            "domain": "inventory",
            "spec": default_recipe("rest", "inventory", "outbound"),
        },
        headers=headers,
    )
    flow = await client.post(
        "/api/v1/flows",
        json={
            "name": name,
            "domain": "inventory",
            "destinations": [
                {"connection_id": connection.json()["id"], "recipe_id": recipe.json()["recipe"]["id"]}
            ],
        },
        headers=headers,
    )
    assert flow.status_code == 201, flow.text
    body = flow.json()
    return uuid.UUID(body["id"]), uuid.UUID(body["destinations"][0]["id"])


async def record_runs(
    db: Database, tenant_id: uuid.UUID, flow_id: uuid.UUID, now: datetime, delivered: int, failed: int
) -> None:
    async with db.transaction(DbScope.system()) as session:
        run = Run.begin(
            tenant_id=tenant_id, flow_id=flow_id, kind="delivery", started_at=now - timedelta(minutes=5)
        )
        run.written_count, run.failed_count = delivered, failed
        run.details = {"latency_ms": histogram([LATENCY_MS] * delivered)}
        run.status, run.finished_at = "succeeded", now - timedelta(minutes=5) + timedelta(milliseconds=120)
        session.add(run)


async def dead_letter(db: Database, tenant_id: uuid.UUID, destination_id: uuid.UUID, sku: str) -> int:
    async with db.transaction(DbScope.system()) as session:
        row = DeadLetter(
            tenant_id=tenant_id,
            destination_id=destination_id,
            entity_key=sku,
            record_type="stock_balance",
            payload={"sku": sku, "location": "web", "on_hand": 4},
            error="HTTP 422: unknown SKU",
            attempts=8,
            correlation_id="corr-123",
        )
        session.add(row)
        await session.flush()
        return row.id


async def seed_sync_facts(
    client: httpx.AsyncClient, world: World, db: Database, now: datetime
) -> dict[str, Any]:
    """Tenant a1: a healthy flow and one with two dead letters; tenant a2: a flow delivering 99 %."""
    key_a1 = await factories.make_api_key(db, world.tenant_a1, SCOPES)
    key_a2 = await factories.make_api_key(db, world.tenant_a2, SCOPES)
    healthy, _ = await wire_flow(client, key_a1, "stock to the web")
    troubled, destination = await wire_flow(client, key_a1, "stock to the app")
    degraded, _ = await wire_flow(client, key_a2, "stock to the marketplace")
    await record_runs(db, world.tenant_a1.id, healthy, now, 100, 0)
    await record_runs(db, world.tenant_a1.id, troubled, now, 10, 1)
    await record_runs(db, world.tenant_a2.id, degraded, now, 990, 10)
    letters = [await dead_letter(db, world.tenant_a1.id, destination, sku) for sku in ("SKU-1", "SKU-2")]
    return {"destination": destination, "letters": letters}
