"""Inventory events through the API to a destination: coalescing, urgency, duplicates and reordering,
per-item errors, Idempotency-Key, retries, dead letters and leases."""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from app.clock import FrozenClock
from app.database.engine import Database
from app.database.scope import DbScope
from app.delivery.models import DeadLetter, QueuedDelivery
from app.delivery.service import Deliverer
from app.flows.models import Run
from tests.app.api.calls import assert_problem, bearer
from tests.app.sync.conftest import Shop, deliver_all, push, wire

SKUS = [f"SKU-00{n}" for n in range(1, 8)]


def count(sku: str, on_hand: int, version: int, location: str = "WH1") -> dict[str, Any]:
    return {
        "sku": sku,
        "location": location,
        "on_hand": on_hand,
        "source": "erp",
        "source_id": f"{sku}@{location}",
        "source_version": version,
    }


class TestIngest:
    async def test_counts_and_per_item_errors(
        self, client: AsyncTestClient[Any], key: str, shop: Shop
    ) -> None:
        await wire(client, key, shop)
        items = [
            count("SKU-001", 10, 1),
            {"sku": "SKU-002", "location": "WH1", "on_hand": "ten"},
            count("SKU-001", 10, 1),
        ]
        response = await push(client, key, items)
        assert response.status_code == 202, response.text
        body = response.json()
        assert (body["accepted"], body["duplicate"], body["rejected"]) == (1, 1, 1)
        assert body["errors"] == [{"index": 1, "field": "on_hand", "reason": "Expected `int`, got `str`"}]
        assert body["correlation_id"] == response.headers["x-correlation-id"]

    async def test_movements_need_a_source_id(
        self, client: AsyncTestClient[Any], key: str, shop: Shop
    ) -> None:
        response = await push(
            client, key, [{"sku": "SKU-001", "location": "WH1", "delta": -1, "reason": "sale"}]
        )
        assert response.json()["errors"][0]["field"] == "source_id"

    async def test_unknown_stream(self, client: AsyncTestClient[Any], key: str) -> None:
        response = await client.post("/api/v1/events/weather", json={"items": [{}]}, headers=bearer(key))
        assert_problem(response, 404, "not-found")

    async def test_idempotency_key(self, client: AsyncTestClient[Any], key: str, shop: Shop) -> None:
        first = await push(client, key, [count("SKU-001", 5, 1)], **{"Idempotency-Key": "batch-1"})
        again = await push(client, key, [count("SKU-001", 5, 1)], **{"Idempotency-Key": "batch-1"})
        assert again.status_code == 202
        assert again.json() == first.json()
        assert again.headers["idempotent-replay"] == "true"
        other = await push(client, key, [count("SKU-001", 6, 2)], **{"Idempotency-Key": "batch-1"})
        assert_problem(other, 409, "idempotency-key-reused")


class TestDelivery:
    async def test_coalesces_within_the_window_and_sends_the_latest(
        self, client: AsyncTestClient[Any], key: str, shop: Shop, deliverer: Deliverer, clock: FrozenClock
    ) -> None:
        wiring = await wire(client, key, shop)
        for version, on_hand in enumerate([40, 35, 30, 25], start=1):
            await push(client, key, [count("SKU-001", on_hand, version)])
        assert (await deliver_all(deliverer, wiring, clock)).claimed == 0  # not due yet: inside the window
        report = await deliver_all(deliverer, wiring, clock, after=6)
        assert report.delivered == 1
        assert shop.on_hand("SKU-001") == 25
        assert await shop.stock_writes() == 1

    async def test_low_stock_goes_at_once(
        self, client: AsyncTestClient[Any], key: str, shop: Shop, deliverer: Deliverer, clock: FrozenClock
    ) -> None:
        wiring = await wire(client, key, shop)
        await push(client, key, [count("SKU-001", 40, 1), count("SKU-002", 2, 1)])
        report = await deliver_all(deliverer, wiring, clock)
        assert report.delivered == 1
        assert shop.on_hand("SKU-002") == 2
        assert shop.on_hand("SKU-001") is None

    async def test_allocation_pools_locations(
        self, client: AsyncTestClient[Any], key: str, shop: Shop, deliverer: Deliverer, clock: FrozenClock
    ) -> None:
        wiring = await wire(client, key, shop)
        await push(client, key, [count("SKU-003", 7, 1, "WH1"), count("SKU-003", 5, 1, "STORE-1")])
        await push(
            client,
            key,
            [{"sku": "SKU-003", "location": "WH1", "order_id": "o-1", "quantity": 2, "source_id": "r1"}],
        )
        await deliver_all(deliverer, wiring, clock, after=6)
        assert shop.on_hand("SKU-003") == 10

    async def test_duplicated_and_reordered_stream_ends_in_the_true_state(
        self, client: AsyncTestClient[Any], key: str, shop: Shop, deliverer: Deliverer, clock: FrozenClock
    ) -> None:
        wiring = await wire(client, key, shop)
        rng = random.Random(4)
        events = [count(sku, rng.randint(0, 60), version) for sku in SKUS for version in range(1, 21)]
        truth = {e["sku"]: e["on_hand"] for e in events if e["source_version"] == 20}
        stream = events + rng.sample(events, len(events) // 5)  # 20 % duplicates
        rng.shuffle(stream)  # and out of order
        totals = {"accepted": 0, "duplicate": 0, "stale": 0}
        for start in range(0, len(stream), 25):
            body = (await push(client, key, stream[start : start + 25])).json()
            for name in totals:
                totals[name] += body[name]
            await deliver_all(deliverer, wiring, clock, after=1)
        await deliver_all(deliverer, wiring, clock, after=10)
        assert totals["accepted"] == len(events)
        assert totals["duplicate"] == len(stream) - len(events)
        assert totals["stale"] > 0
        assert {sku: shop.on_hand(sku) for sku in SKUS} == truth

    async def test_two_workers_never_send_the_same_batch(
        self, client: AsyncTestClient[Any], key: str, shop: Shop, deliverer: Deliverer, clock: FrozenClock
    ) -> None:
        wiring = await wire(client, key, shop)
        await push(client, key, [count(sku, 50, 1) for sku in SKUS])
        clock.advance(__import__("datetime").timedelta(seconds=6))
        destination = uuid.UUID(wiring.destination_id)
        shop.store.writes = []  # the sandbox's log of every stored write
        first, second = await asyncio.gather(
            deliverer.deliver_due(destination), deliverer.deliver_due(destination)
        )
        assert first.delivered + second.delivered == len(SKUS)
        # the workers may split the rows between them (each claims what the other has not locked), but
        # no row is sent by both: each SKU is written once, in at most one batch per worker
        written = [key for resource, key, _, _ in shop.store.writes if resource == "stock"]
        assert sorted(written) == sorted(f"{sku}:WEB" for sku in SKUS)
        log = (await shop.control.get("/_sandbox/requests")).json()
        assert 1 <= sum(1 for entry in log if entry["path"] == "/stock/batch") <= 2


class TestFailures:
    async def test_429_and_5xx_end_delivered_never_lost(
        self,
        client: AsyncTestClient[Any],
        key: str,
        shop: Shop,
        deliverer: Deliverer,
        clock: FrozenClock,
        db: Database,
    ) -> None:
        wiring = await wire(client, key, shop)
        await push(client, key, [count(sku, 20, 1) for sku in SKUS])
        await shop.fault(status=429, count=3, retry_after=0.05)
        await shop.fault(status=503, count=3)
        first = await deliver_all(deliverer, wiring, clock, after=6)  # three 429s: the template gives up
        assert first.retried == len(SKUS)
        assert all(shop.on_hand(sku) is None for sku in SKUS)
        second = await deliver_all(deliverer, wiring, clock, after=60)  # then three 503s
        assert second.retried == len(SKUS)
        async with db.transaction(DbScope.system()) as session:
            attempts = set((await session.scalars(select(QueuedDelivery.attempts))).all())
        assert attempts == {2}
        report = await deliver_all(deliverer, wiring, clock, after=60)
        assert report.delivered == len(SKUS)
        assert {shop.on_hand(sku) for sku in SKUS} == {20}
        async with db.transaction(DbScope.system()) as session:
            runs = (await session.scalars(select(Run.status).order_by(Run.started_at))).all()
            queued = await session.scalar(select(func.count()).select_from(QueuedDelivery))
        assert runs == ["failed", "failed", "succeeded"]
        assert queued == 0

    async def test_after_max_attempts_a_dead_letter_never_a_loss(
        self,
        client: AsyncTestClient[Any],
        key: str,
        shop: Shop,
        deliverer: Deliverer,
        clock: FrozenClock,
        db: Database,
    ) -> None:
        wiring = await wire(client, key, shop, max_attempts=2)
        await push(client, key, [count("SKU-006", 20, 1)])
        await shop.fault(status=503, count=100)
        await deliver_all(deliverer, wiring, clock, after=6)
        report = await deliver_all(deliverer, wiring, clock, after=600)
        assert report.dead_lettered == 1
        async with db.transaction(DbScope.system()) as session:
            letter = await session.scalar(select(DeadLetter))
        assert letter is not None
        assert (letter.entity_key, letter.attempts) == ("SKU-006", 2)
        assert "503" in letter.error

    async def test_a_bad_record_is_dead_lettered_and_replays_after_the_recipe_is_fixed(
        self,
        client: AsyncTestClient[Any],
        key: str,
        shop: Shop,
        deliverer: Deliverer,
        clock: FrozenClock,
        db: Database,
    ) -> None:
        wiring = await wire(client, key, shop)
        from connectors.recipes import default_recipe

        broken = default_recipe("rest", "inventory", "outbound") or {}
        broken = {
            **broken,
            "fields": {**broken["fields"], "on_hand": {"from": "on_hand", "cast": "str"}},
            "tests": [],
        }
        saved = await client.post(
            "/api/v1/recipes",
            json={"name": wiring.recipe_name, "domain": "inventory", "spec": broken},
            headers=bearer(key),
        )
        assert saved.status_code == 201, saved.text
        await push(client, key, [count("SKU-004", 9, 1), count("SKU-005", 1, 1)])
        report = await deliver_all(deliverer, wiring, clock, after=6)
        assert report.dead_lettered == 2
        async with db.transaction(DbScope.system()) as session:
            letters = (await session.scalars(select(DeadLetter).order_by(DeadLetter.entity_key))).all()
            queued = await session.scalar(select(func.count()).select_from(QueuedDelivery))
        assert queued == 0
        assert [letter.entity_key for letter in letters] == ["SKU-004", "SKU-005"]
        assert "on_hand must be an integer" in letters[0].error

        fixed = default_recipe("rest", "inventory", "outbound")
        saved = await client.post(
            "/api/v1/recipes",
            json={"name": wiring.recipe_name, "domain": "inventory", "spec": fixed},
            headers=bearer(key),
        )
        assert saved.json()["version"]["version"] == 3
        replay = await client.post(f"/api/v1/dead-letters/{letters[0].id}/replay", headers=bearer(key))
        assert replay.status_code in (200, 201), replay.text
        report = await deliver_all(deliverer, wiring, clock)
        assert report.delivered == 1
        assert shop.on_hand("SKU-004") == 9


class TestConcurrentIngest:
    async def test_overlapping_batches_in_different_orders_all_land(
        self, client: AsyncTestClient[Any], key: str, shop: Shop
    ) -> None:
        await wire(client, key, shop)
        rng = random.Random(11)
        batches = []
        for worker in range(4):
            items = [count(f"SKU-{n:04d}", rng.randint(0, 50), worker + 1) for n in range(300)]
            rng.shuffle(items)
            batches.append(items)
        answers = await asyncio.gather(*(push(client, key, items) for items in batches))
        assert [a.status_code for a in answers] == [202] * 4, [
            a.text for a in answers if a.status_code != 202
        ]
        assert sum(a.json()["accepted"] for a in answers) == 1200
        stock = (await client.get("/api/v1/stock?sku=SKU-0007", headers=bearer(key))).json()["items"]
        assert stock[0]["source_version"] == 4


class TestConnectionLimits:
    async def test_agreed_batch_size_and_rate_are_used_and_audited(
        self, client: AsyncTestClient[Any], key: str, shop: Shop, deliverer: Deliverer, clock: FrozenClock
    ) -> None:
        wiring = await wire(client, key, shop)
        changed = await client.patch(
            f"/api/v1/connections/{wiring.connection_id}",
            json={"batch_size": 3, "rate_limit": {"rate": 50, "burst": 50}},
            headers=bearer(key),
        )
        assert changed.status_code == 200, changed.text
        assert (changed.json()["batch_size"], changed.json()["rate_limit"]) == (
            3,
            {"rate": 50.0, "burst": 50},
        )
        refused = await client.patch(
            f"/api/v1/connections/{wiring.connection_id}", json={"batch_size": 0}, headers=bearer(key)
        )
        assert refused.status_code == 400
        await push(client, key, [count(sku, 40, 1) for sku in SKUS])
        report = await deliver_all(deliverer, wiring, clock, after=6)
        assert report.delivered == len(SKUS)
        assert await shop.stock_writes() == 3  # 3 + 3 + 1
