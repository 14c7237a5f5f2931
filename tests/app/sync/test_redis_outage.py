"""With Redis unreachable, events are still accepted and stored (202): ingest needs only PostgreSQL,
and the wake-ups wait in the outbox until a worker with Redis relays them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from app.clock import FrozenClock
from app.database.engine import Database
from app.database.scope import DbScope
from app.delivery.models import QueuedDelivery
from app.factory import create_app
from app.outbox.models import OutboxMessage
from app.settings import Settings
from tests.app.sync.conftest import Shop, push, wire
from tests.redis_process import free_port


@pytest.fixture
async def no_redis_client(settings: Settings, clock: FrozenClock) -> AsyncIterator[AsyncTestClient[Any]]:
    app = create_app(replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0"), clock=clock)
    async with AsyncTestClient(app, base_url="https://localhost") as client:
        yield client


class TestRedisDown:
    async def test_events_are_accepted_and_stored(
        self,
        client: AsyncTestClient[Any],
        no_redis_client: AsyncTestClient[Any],
        key: str,
        shop: Shop,
        db: Database,
    ) -> None:
        await wire(client, key, shop)
        response = await push(no_redis_client, key, [{"sku": "SKU-001", "location": "WH1", "on_hand": 1}])
        assert response.status_code == 202, response.text
        assert response.json()["accepted"] == 1
        async with db.transaction(DbScope.system()) as session:
            queued = await session.scalar(select(func.count()).select_from(QueuedDelivery))
            nudges = await session.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.processed_at.is_(None))
            )
        assert (queued, nudges) == (1, 1)
