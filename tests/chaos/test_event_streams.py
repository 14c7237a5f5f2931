"""A seeded stream with 20 % of its events duplicated and 20 % moved out of order, pushed while a
delivery runs beside it: the shop ends in the true state."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

from litestar.testing import AsyncTestClient

from app.clock import FrozenClock
from app.delivery.service import Deliverer
from tests.app.api.calls import bearer
from tests.app.sync.conftest import Shop, push, wire
from tests.chaos.conftest import SKUS

SEED = 20261125
VERSIONS = 12
MOVEMENTS = 10


def stream(rng: random.Random, skus: list[str]) -> list[dict[str, Any]]:
    """In source order: versioned counts at WH1 (the highest version wins) and sales and restocks at
    STORE-1 (each a movement with its own source id, added to the on-hand stock)."""
    events: list[dict[str, Any]] = []
    for version in range(1, VERSIONS + 1):
        for sku in skus:
            events.append(
                {
                    "sku": sku,
                    "location": "WH1",
                    "on_hand": rng.randint(0, 80),
                    "source": "erp",
                    "source_id": f"{sku}@WH1",
                    "source_version": version,
                }
            )
            if version <= MOVEMENTS:
                delta = rng.choice([-1, 2, 3, 5])
                events.append(
                    {
                        "sku": sku,
                        "location": "STORE-1",
                        "delta": delta,
                        "reason": "sale" if delta < 0 else "receipt",
                        "source_id": f"{sku}@STORE-1#{version}",
                    }
                )
    return events


def truth_of(events: list[dict[str, Any]]) -> dict[str, int]:
    """What the shop must show: the last count at WH1 plus every movement at STORE-1."""
    counts: dict[str, tuple[int, int]] = {}
    moved: Counter[str] = Counter()
    for event in events:
        if "delta" in event:
            moved[event["sku"]] += event["delta"]
        elif event["source_version"] > counts.get(event["sku"], (0, 0))[0]:
            counts[event["sku"]] = (event["source_version"], event["on_hand"])
    return {sku: on_hand + moved[sku] for sku, (_, on_hand) in counts.items()}


def disturbed(rng: random.Random, events: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """20 % of the events moved to a random place, then 20 % sent twice (at random places); also the
    number of copies."""
    shuffled = list(events)
    for event in rng.sample(events, len(events) // 5):
        shuffled.remove(event)
        shuffled.insert(rng.randrange(len(shuffled) + 1), event)
    copies = rng.sample(events, len(events) // 5)
    for copy in copies:
        shuffled.insert(rng.randrange(len(shuffled) + 1), dict(copy))
    return shuffled, len(copies)


class TestDisturbedStreams:
    async def test_duplicated_and_reordered_stream_delivered_concurrently_ends_true(
        self, client: AsyncTestClient[Any], key: str, shop: Shop, deliverer: Deliverer, clock: FrozenClock
    ) -> None:
        """Fault: 20 % of the events displaced and 20 % duplicated (seeded). Load: 20 SKUs × 12 count
        versions at one location and 10 movements each at another, pooled into one destination,
        pushed in batches of 40 while a delivery loop runs beside the pushes (settlements race with
        newer values arriving). End state: every event accepted once (copies are duplicates), older
        counts recorded as stale, canonical stock per location as the source says, and the shop holds
        each SKU's true pooled value."""
        rng = random.Random(SEED)
        skus = SKUS[:20]
        events = stream(rng, skus)
        truth = truth_of(events)
        sent, copies = disturbed(rng, events)
        wiring = await wire(client, key, shop, low_stock_threshold=10, batch_window_seconds=1)
        destination = uuid.UUID(wiring.destination_id)
        totals: Counter[str] = Counter()
        pushing = True

        async def pusher() -> None:
            nonlocal pushing
            for start in range(0, len(sent), 40):
                response = await push(client, key, sent[start : start + 40])
                assert response.status_code == 202, response.text
                assert response.json()["rejected"] == 0, response.json()["errors"]
                totals.update({name: response.json()[name] for name in ("accepted", "duplicate", "stale")})
                await asyncio.sleep(0)
            pushing = False

        async def delivering() -> None:
            while pushing:
                clock.advance(timedelta(seconds=0.5))
                await deliverer.deliver_due(destination)
                await asyncio.sleep(0.01)

        await asyncio.gather(pusher(), delivering())
        clock.advance(timedelta(seconds=5))
        await deliverer.deliver_due(destination)

        assert totals["accepted"] + totals["duplicate"] == len(sent)
        assert totals["duplicate"] == copies
        assert totals["stale"] > 0  # displaced counts arrived after newer ones
        stock = await client.get("/api/v1/stock?limit=500", headers=bearer(key))
        by_location: dict[tuple[str, str], int] = {
            (row["sku"], row["location"]): row["on_hand"] for row in stock.json()["items"]
        }
        assert {sku: by_location[(sku, "WH1")] + by_location[(sku, "STORE-1")] for sku in skus} == truth
        assert {sku: shop.on_hand(sku) for sku in skus} == truth
