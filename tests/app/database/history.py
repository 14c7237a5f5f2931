"""A database of its own for tests that create or drop partitions (the session's shared database keeps
the months the migration made, which other tests write into), and rows placed in chosen months."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert

from app.database.engine import Database, app_engine
from app.database.migrations import upgrade
from app.database.partitions import month_start
from app.database.scope import DbScope
from app.embedded import EmbeddedServices
from app.flows.models import Flow, Run
from app.inventory.models import StockMovementEntry
from app.metering.models import UsageEvent
from app.settings import Settings
from tests.conftest import _drop_database, scratch_database, services_lock


def mid_month(now: datetime) -> datetime:
    """The 15th, noon, of ``now``'s month: a day back and a day ahead stay in the same month."""
    return month_start(now) + timedelta(days=14, hours=12)


@pytest.fixture(scope="module")
def history_settings(services: tuple[Settings, EmbeddedServices]) -> Iterator[Settings]:
    base, _ = services
    assert base.database_url
    name = f"shelfsync_test_history_{os.getpid()}"
    made = scratch_database(base, name)
    with services_lock(made):
        upgrade(made)
    yield made
    asyncio.run(_drop_database(base.database_url, name))


@pytest.fixture
async def history_db(history_settings: Settings) -> AsyncIterator[Database]:
    database = Database.from_engine(app_engine(history_settings, pool_size=2))
    yield database
    await database.dispose()


async def add_flow(db: Database, tenant_id: uuid.UUID) -> uuid.UUID:
    async with db.transaction(DbScope.system()) as session:
        flow = Flow(tenant_id=tenant_id, name=f"flow {uuid.uuid4().hex[:6]}", domain="inventory")
        session.add(flow)
        await session.flush()
        return flow.id


async def add_history(
    db: Database, tenant_id: uuid.UUID, flow_id: uuid.UUID, at: datetime, n: int = 1
) -> None:
    """``n`` rows at ``at`` in each partitioned table but ingress events (those go through ingest): a
    finished delivery run, a movement and a usage event of 10 records synced."""
    rows: dict[Any, list[dict[str, Any]]] = {
        Run.__table__: [
            {
                "id": uuid.uuid4(),
                "tenant_id": tenant_id,
                "flow_id": flow_id,
                "kind": "delivery",
                "status": "succeeded",
                "written_count": 1,
                "started_at": at,
                "finished_at": at,
            }
            for _ in range(n)
        ],
        StockMovementEntry.__table__: [
            {
                "tenant_id": tenant_id,
                "sku": "SKU",
                "location": "L",
                "delta": 1,
                "reason": "sale",
                "occurred_at": at,
            }
            for _ in range(n)
        ],
        UsageEvent.__table__: [
            {
                "tenant_id": tenant_id,
                "kind": "records_synced",
                "quantity": 10,
                "idempotency_key": f"test:{uuid.uuid4()}",
                "occurred_at": at,
            }
            for _ in range(n)
        ],
    }
    async with db.transaction(DbScope.system()) as session:
        for table, values in rows.items():
            await session.execute(insert(table), values)
