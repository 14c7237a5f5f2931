"""Each delivery run keeps the received → acknowledged latency of the records it delivered, measured
from when the (oldest waiting) change was queued to when the destination took it."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from app.clock import FrozenClock
from app.database.engine import Database
from app.database.scope import DbScope
from app.delivery.service import Deliverer
from app.flows.latency import percentile
from app.flows.models import Run
from tests.app.sync.conftest import Shop, deliver_all, push, wire


class TestLatencyFacts:
    async def test_a_delivery_run_holds_one_latency_per_record_delivered(
        self,
        client: AsyncTestClient[Any],
        key: str,
        shop: Shop,
        deliverer: Deliverer,
        clock: FrozenClock,
        db: Database,
    ) -> None:
        wiring = await wire(client, key, shop)
        items = [{"sku": f"SKU-00{n}", "location": "WH1", "on_hand": 40 + n} for n in range(1, 4)]
        assert (await push(client, key, items)).json()["accepted"] == 3
        report = await deliver_all(deliverer, wiring, clock, after=7)  # past the 5 s batch window
        assert report.delivered == 3
        async with db.transaction(DbScope.system()) as session:
            run = await session.scalar(select(Run).where(Run.kind == "delivery"))
        assert run is not None
        latencies = run.details["latency_ms"]
        assert sum(latencies.values()) == 3
        median = percentile(latencies, 0.5)
        assert median is not None
        assert 7000 <= median <= 7000 * 1.1
