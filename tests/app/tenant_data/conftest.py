"""Tenants with rows in many tables, set up as a retailer would (API calls) plus the engine's own writes,
and the catalogue walk tests use to count a tenant's rows everywhere."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import FrozenClock
from app.database.engine import Database
from app.database.scope import DbScope
from app.outbox.models import OutboxMessage
from app.settings import Settings
from app.tenant_data.catalogue import rows_of_tenant
from tenants.models import Tenant
from tests import factories
from tests.app.api.calls import bearer
from tests.app.portal.sync_facts import dead_letter, record_runs, wire_flow
from tests.factories import World

SCOPES = ["connections:write", "recipes:write", "flows:write", "events:write", "api_keys:write"]


@dataclass
class Seeded:
    """A tenant's API key and the ids its rows were written under."""

    tenant_id: uuid.UUID
    key: str
    flow_id: uuid.UUID
    destination_id: uuid.UUID


def stock(sku: str, on_hand: int, version: int) -> dict[str, Any]:
    return {
        "sku": sku,
        "location": "WH1",
        "on_hand": on_hand,
        "source": "erp",
        "source_id": f"{sku}@WH1",
        "source_version": version,
    }


async def seed_tenant(
    client: httpx.AsyncClient, db: Database, tenant_id: uuid.UUID, now: datetime, *, skus: int
) -> Seeded:
    """Connections, recipes and versions, a flow with a destination, ingested stock (ingress log, stock,
    delivery queue, idempotent response, metering), runs, a dead letter, API keys and audit rows."""
    async with db.transaction(DbScope.system()) as session:
        tenant = await session.get(Tenant, tenant_id)
        assert tenant is not None
    key = await factories.make_api_key(db, tenant, SCOPES)
    flow_id, destination_id = await wire_flow(client, key, f"stock {tenant.slug}")
    response = await client.post(
        "/api/v1/events/inventory",
        json={"items": [stock(f"SKU-{n:03}", n, 1) for n in range(skus)]},
        headers={**bearer(key), "Idempotency-Key": f"seed-{tenant.slug}"},
    )
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == skus
    created = await client.post(
        "/api/v1/api-keys", json={"name": "second", "scopes": ["events:write"]}, headers=bearer(key)
    )
    assert created.status_code == 201, created.text
    await record_runs(db, tenant_id, flow_id, now, delivered=5, failed=1)
    await dead_letter(db, tenant_id, destination_id, "SKU-000")
    return Seeded(tenant_id, key, flow_id, destination_id)


async def seed_world(
    client: httpx.AsyncClient, world: World, db: Database, clock: FrozenClock
) -> dict[str, Seeded]:
    """Tenants a1 (25 SKUs) and a2 (7 SKUs) of partner alpha, b1 (4 SKUs) of partner beta."""
    return {
        "a1": await seed_tenant(client, db, world.tenant_a1.id, clock.now(), skus=25),
        "a2": await seed_tenant(client, db, world.tenant_a2.id, clock.now(), skus=7),
        "b1": await seed_tenant(client, db, world.tenant_b1.id, clock.now(), skus=4),
    }


async def tenant_rows(owner: Any, tenant_id: uuid.UUID) -> dict[str, int]:
    """Rows of the tenant in every table the catalogue walk finds, counted as the schema owner (no RLS)."""
    async with owner.connect() as connection, AsyncSession(bind=connection) as session:
        return await rows_of_tenant(session, tenant_id)


def job_ctx(settings: Settings, db: Database, redis: Any, clock: FrozenClock) -> dict[str, Any]:
    """What a worker hands its jobs (``ctx``)."""
    return {"settings": settings, "db": db, "redis": redis, "clock": clock, "job_try": 1}


@pytest.fixture
async def alpha(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A browser on partner alpha's portal."""
    async with AsyncTestClient(app, base_url="https://alpha.localhost") as client:
        yield client


async def run_outbox(db: Database, ctx: dict[str, Any], task: str, job: Any) -> list[str]:
    """Run every pending outbox row of ``task`` with ``job``, as a worker would."""
    async with db.transaction(DbScope.system()) as session:
        ids = list(
            await session.scalars(
                select(OutboxMessage.id).where(
                    OutboxMessage.task == task, OutboxMessage.processed_at.is_(None)
                )
            )
        )
    return [await job(ctx, outbox_id) for outbox_id in ids]
