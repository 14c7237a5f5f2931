"""Promotion deployment end to end: the scheduler activates at the window's start, each destination is
written and read back in the configured sequence (store files, then the shop, then the marketplace), a
failing destination is retried while the others stay live, and pause, rollback and expiry put the
regular prices back everywhere."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from arq import create_pool
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from app.clock import FrozenClock, SystemClock
from app.connections.service import tenant_folder
from app.database.engine import Database
from app.delivery.service import Deliverer
from app.promotions.deploy import Runtime
from app.promotions.jobs import promotions_due
from app.redis import arq_redis_settings
from app.settings import Settings
from app.worker import QUEUE_NAME
from connectors.recipes import default_recipe
from tests import factories
from tests.app.api.calls import assert_problem
from tests.app.promotions.estate import SCOPES, Estate, build_estate, regular_price, sandboxes, sku_of, tick
from tests.app.sync.test_delivery_worker import burst_worker, relay_and_work
from tests.factories import World


def moving(clock: FrozenClock) -> Callable[[], datetime]:
    """The test's clock, running on in real time from now: deployments get distinct timestamps."""
    base, started = clock.now(), time.monotonic()
    return lambda: base + timedelta(seconds=time.monotonic() - started)


async def run_due(runtime: Runtime, db: Database, clock: FrozenClock) -> list[str]:
    return await tick(runtime, db, clock.now(), moving(clock))


def expect_everywhere(estate: Estate, *, promoted: bool) -> dict[str, dict[Any, Any]]:
    """What each destination must show: promotional or regular prices for every SKU (and store)."""

    def price(n: int) -> Any:
        return estate.promoted(n) if promoted else regular_price(n)

    return {
        "store files": {(sku_of(n), store): price(n) for n in range(estate.skus) for store in estate.stores},
        "web shop": {sku_of(n): price(n) for n in range(estate.skus)},
        "marketplace": {sku_of(n): price(n) for n in range(estate.skus)},
    }


class TestLargeDeployment:
    # 720,000 store-file rows written and read back: ~30 s on a quiet 2-core machine, past the suite's
    # 120 s limit when other work shares the cores; its speed is measured by bench.promotion. Rollback
    # everywhere is shown on the small estate (TestPauseAndRollback), where it costs a second, not 30.
    @pytest.mark.timeout(300)
    async def test_1200_skus_600_stores_shop_and_marketplace_deployed_and_verified_in_sequence(
        self,
        client: AsyncTestClient[Any],
        keys: tuple[str, str],
        files_settings: Settings,
        world: World,
        runtime: Runtime,
        db: Database,
        clock: FrozenClock,
    ) -> None:
        folder = tenant_folder(files_settings, world.tenant_a1.id) / "pos"
        async with sandboxes(shopify_plus=True) as boxes:
            estate = await build_estate(client, *keys, boxes, folder, skus=1200, stores=600)
            start = clock.now() + timedelta(minutes=5)
            activated = await estate.promote(start)
            promotion_id = activated["id"]
            assert activated["state"] == "scheduled"
            assert await run_due(runtime, db, clock) == []  # the window has not started

            clock.advance(timedelta(minutes=5))
            [outcome] = await run_due(runtime, db, clock)
            assert outcome == "active: attempted 3 destination(s)"
            deployments = await estate.deployments(promotion_id)
            assert {name: (d["status"], d["records"]) for name, d in deployments.items()} == {
                "store files": ("verified", 1200 * 600),
                "web shop": ("verified", 1200),
                "marketplace": ("verified", 1200),
            }
            # the configured sequence: store files, then the shop, then the marketplace
            assert [d["kind"] for d in sorted(deployments.values(), key=lambda d: d["deployed_at"])] == [
                "file",
                "ecommerce",
                "marketplace",
            ]
            assert all(d["lateness_seconds"] > 0 for d in deployments.values())
            assert len(list((folder / "outbound").glob("prices_*.csv"))) == 600
            assert await estate.prices_everywhere() == expect_everywhere(estate, promoted=True)


class TestFailures:
    async def test_a_failing_destination_is_retried_while_the_others_stay_live(
        self, small_estate: Estate, runtime: Runtime, db: Database, clock: FrozenClock
    ) -> None:
        estate = small_estate
        await estate.sandboxes.fault(estate.sandboxes.market_url, status=503, count=1000)
        promotion_id = (await estate.promote(clock.now() + timedelta(seconds=30)))["id"]
        clock.advance(timedelta(seconds=30))
        await run_due(runtime, db, clock)

        deployments = await estate.deployments(promotion_id)
        failed = deployments["marketplace"]
        assert (failed["status"], failed["attempts"]) == ("failed", 1)
        assert "503" in failed["last_error"]
        assert failed["next_attempt_at"] is not None
        assert deployments["store files"]["status"] == deployments["web shop"]["status"] == "verified"
        promotion = (await estate.call("GET", f"/promotions/{promotion_id}")).json()
        assert promotion["state"] == "active"
        assert promotion["history"][-1]["reason"] == "live on 2 of 3 destination(s)"
        prices = await estate.prices_everywhere()
        expected = expect_everywhere(estate, promoted=True)
        assert prices["web shop"] == expected["web shop"]
        assert prices["store files"] == expected["store files"]
        assert prices["marketplace"] == expect_everywhere(estate, promoted=False)["marketplace"]

        # before its retry time nothing is attempted; after it (the marketplace is back) it lands
        assert await run_due(runtime, db, clock) == []
        await estate.sandboxes.clear_faults(estate.sandboxes.market_url)
        clock.advance(timedelta(minutes=5))
        assert await run_due(runtime, db, clock) == ["active: attempted 1 destination(s)"]
        deployments = await estate.deployments(promotion_id)
        assert deployments["marketplace"]["status"] == "verified"
        assert deployments["marketplace"]["attempts"] == 0
        assert await estate.prices_everywhere() == expect_everywhere(estate, promoted=True)

    async def test_a_destination_that_shows_other_prices_fails_verification(
        self, small_estate: Estate, runtime: Runtime, db: Database, clock: FrozenClock
    ) -> None:
        """A marketplace recipe that adds a euro (a mapping mistake): the writes are accepted, the
        read-back catches every price."""
        estate = small_estate
        spec = default_recipe("marketplace", "prices", "outbound")
        assert spec is not None
        spec["fields"]["amount"] = {"expr": "str(record.amount + 1)"}
        spec["tests"] = []
        saved = await estate.call("POST", "/recipes", name="marketplace prices", domain="prices", spec=spec)
        assert saved.status_code == 201, saved.text
        promotion_id = (await estate.promote(clock.now()))["id"]
        await run_due(runtime, db, clock)
        failed = (await estate.deployments(promotion_id))["marketplace"]
        assert failed["status"] == "failed"
        assert failed["deployed_at"] is not None
        assert failed["last_error"].startswith("read-back found 30 of 30 price(s) wrong: SKU-00000: expected")
        assert (await estate.sandboxes.market_prices())[sku_of(0)] == estate.promoted(0) + 1


class TestPauseAndRollback:
    async def test_pause_and_resume_one_destination_then_all(
        self, small_estate: Estate, runtime: Runtime, db: Database, clock: FrozenClock
    ) -> None:
        estate = small_estate
        promotion_id = (await estate.promote(clock.now()))["id"]
        assert (await estate.call("GET", f"/promotions/{promotion_id}")).json()["state"] == "activating"
        await run_due(runtime, db, clock)
        promoted, regular = (
            expect_everywhere(estate, promoted=True),
            expect_everywhere(estate, promoted=False),
        )
        shop = [estate.destinations["web shop"]]

        await estate.call(
            "POST", f"/promotions/{promotion_id}/pause", destinations=shop, reason="stock issue"
        )
        await run_due(runtime, db, clock)
        prices = await estate.prices_everywhere()
        assert prices["web shop"] == regular["web shop"]
        assert prices["marketplace"] == promoted["marketplace"]
        assert (await estate.deployments(promotion_id))["web shop"]["status"] == "paused"

        resumed = await estate.call("POST", f"/promotions/{promotion_id}/activate", destinations=shop)
        assert resumed.json()["state"] == "active"
        await run_due(runtime, db, clock)
        assert await estate.prices_everywhere() == promoted

        paused = await estate.call("POST", f"/promotions/{promotion_id}/pause", reason="board meeting")
        assert paused.json()["state"] == "paused"
        await run_due(runtime, db, clock)
        assert {d["status"] for d in (await estate.deployments(promotion_id)).values()} == {"paused"}
        assert await estate.prices_everywhere() == regular

        assert (await estate.call("POST", f"/promotions/{promotion_id}/activate")).json()["state"] == "active"
        await run_due(runtime, db, clock)
        assert {d["status"] for d in (await estate.deployments(promotion_id)).values()} == {"verified"}
        assert await estate.prices_everywhere() == promoted

    async def test_rollback_of_one_destination_keeps_the_others_live(
        self, small_estate: Estate, runtime: Runtime, db: Database, clock: FrozenClock
    ) -> None:
        estate = small_estate
        promotion_id = (await estate.promote(clock.now()))["id"]
        await run_due(runtime, db, clock)
        market = [estate.destinations["marketplace"]]
        rolled = await estate.call("POST", f"/promotions/{promotion_id}/rollback", destinations=market)
        assert rolled.json()["state"] == "active"
        await run_due(runtime, db, clock)
        deployments = await estate.deployments(promotion_id)
        assert [deployments[n]["status"] for n in ("store files", "web shop", "marketplace")] == [
            "verified",
            "verified",
            "rolled_back",
        ]
        prices = await estate.prices_everywhere()
        assert prices["marketplace"] == expect_everywhere(estate, promoted=False)["marketplace"]
        assert prices["web shop"] == expect_everywhere(estate, promoted=True)["web shop"]

    async def test_a_rolled_back_promotion_reopened_and_approved_again_goes_live_again(
        self, small_estate: Estate, runtime: Runtime, db: Database, clock: FrozenClock
    ) -> None:
        estate = small_estate
        promotion_id = (await estate.promote(clock.now()))["id"]
        await run_due(runtime, db, clock)
        await estate.call("POST", f"/promotions/{promotion_id}/rollback", reason="typo in the name")
        await run_due(runtime, db, clock)
        assert await estate.prices_everywhere() == expect_everywhere(estate, promoted=False)
        for step, key in (
            ("reopen", None),
            ("validate", None),
            ("approve", estate.approver),
            ("activate", None),
        ):
            answer = await estate.call("POST", f"/promotions/{promotion_id}/{step}", key)
            assert answer.status_code == 200, answer.text
        await run_due(runtime, db, clock)
        assert {d["status"] for d in (await estate.deployments(promotion_id)).values()} == {"verified"}
        assert await estate.prices_everywhere() == expect_everywhere(estate, promoted=True)


class TestExpiry:
    async def test_the_window_end_restores_regular_prices_everywhere(
        self, small_estate: Estate, runtime: Runtime, db: Database, clock: FrozenClock
    ) -> None:
        estate = small_estate
        promotion_id = (await estate.promote(clock.now() + timedelta(hours=1), days=1))["id"]
        clock.advance(timedelta(hours=1))
        await run_due(runtime, db, clock)
        assert await estate.prices_everywhere() == expect_everywhere(estate, promoted=True)

        clock.advance(timedelta(hours=23, minutes=59, seconds=59))
        assert await run_due(runtime, db, clock) == []  # one second before the end
        clock.advance(timedelta(seconds=1))
        assert await run_due(runtime, db, clock) == ["expired: attempted 3 destination(s)"]
        assert await estate.prices_everywhere() == expect_everywhere(estate, promoted=False)
        promotion = (await estate.call("GET", f"/promotions/{promotion_id}")).json()
        assert promotion["state"] == "expired"
        assert [(h["to_state"], h["actor"]) for h in promotion["history"][-4:]] == [
            ("activating", "scheduler"),
            ("active", "scheduler"),
            ("expiring", "scheduler"),
            ("expired", "scheduler"),
        ]
        assert {d["status"] for d in promotion["deployments"]} == {"expired"}


class TestRegularPricesDuringAPromotion:
    async def test_a_new_regular_price_goes_out_promoted_until_the_promotion_ends(
        self,
        small_estate: Estate,
        runtime: Runtime,
        db: Database,
        clock: FrozenClock,
        files_settings: Settings,
        redis: Redis,
    ) -> None:
        estate = small_estate
        promotion_id = (await estate.promote(clock.now()))["id"]
        await run_due(runtime, db, clock)
        changed = await estate.call(
            "POST", "/events/prices", items=[{"sku": sku_of(3), "amount": "20.00", "currency": "EUR"}]
        )
        assert changed.json()["accepted"] == 1, changed.text
        deliverer = Deliverer(files_settings, db, redis, clock.now)
        clock.advance(timedelta(seconds=10))  # past the flow's batch window
        for name in ("web shop", "marketplace"):
            report = await deliverer.deliver_due(uuid.UUID(estate.destinations[name]))
            assert report.delivered == 1
        assert estate.sandboxes.shop_prices()[sku_of(3)] == Decimal("16.00")
        assert (await estate.sandboxes.market_prices())[sku_of(3)] == Decimal("16.00")

        await estate.call("POST", f"/promotions/{promotion_id}/rollback")
        await run_due(runtime, db, clock)
        assert estate.sandboxes.shop_prices()[sku_of(3)] == Decimal("20.00")
        assert (await estate.sandboxes.market_prices())[sku_of(3)] == Decimal("20.00")


class TestWorker:
    async def test_a_worker_deploys_from_the_outbox_and_from_the_sweep(
        self, small_estate: Estate, files_settings: Settings, db: Database, clock: FrozenClock
    ) -> None:
        estate = small_estate
        activated = await estate.promote(clock.now())  # the window has started: activating at once
        assert activated["state"] == "activating"
        await relay_and_work(files_settings, db)  # the outbox hands the promotion to a worker
        deployments = await estate.deployments(activated["id"])
        assert {d["status"] for d in deployments.values()} == {"verified"}
        assert await estate.prices_everywhere() == expect_everywhere(estate, promoted=True)

        await estate.call("POST", f"/promotions/{activated['id']}/pause")
        queue = await create_pool(
            arq_redis_settings(files_settings.redis_url or ""), default_queue_name=QUEUE_NAME
        )
        try:
            ctx = {"db": db, "redis": queue, "clock": SystemClock(), "queue_name": QUEUE_NAME}
            assert await promotions_due(ctx) == "advancing 1"  # the sweep, not the outbox row
        finally:
            await queue.aclose()
        await burst_worker(files_settings)
        assert {d["status"] for d in (await estate.deployments(activated["id"])).values()} == {"paused"}
        assert await estate.prices_everywhere() == expect_everywhere(estate, promoted=False)


class TestApi:
    async def test_illegal_actions_and_unknown_destinations(
        self, small_estate: Estate, runtime: Runtime, db: Database, clock: FrozenClock
    ) -> None:
        estate = small_estate
        draft = await estate.call(
            "POST",
            "/promotions",
            promotion={
                "code": "DRAFT",
                "name": "Not yet",
                "rule": {"type": "percent_off", "percent": "5"},
                "window": {
                    "starts_at": clock.now().isoformat(),
                    "ends_at": (clock.now() + timedelta(days=1)).isoformat(),
                },
                "eligibility": {"skus": [sku_of(1)]},
            },
        )
        draft_id = draft.json()["id"]
        body = assert_problem(
            await estate.call("POST", f"/promotions/{draft_id}/activate"), 409, "illegal-transition"
        )
        assert (body["state"], body["allowed"]) == ("draft", ["validated"])
        assert_problem(
            await estate.call("POST", f"/promotions/{draft_id}/rollback"), 409, "illegal-transition"
        )

        promotion_id = (await estate.promote(clock.now()))["id"]
        await run_due(runtime, db, clock)
        unknown = "00000000-0000-4000-8000-000000000000"
        body = assert_problem(
            await estate.call("POST", f"/promotions/{promotion_id}/pause", destinations=[unknown]),
            422,
            "validation-failed",
        )
        assert body["errors"] == [{"path": "destinations", "reason": f"no deployment on {unknown}"}]
        # nothing half-done: every destination still live
        assert {d["status"] for d in (await estate.deployments(promotion_id)).values()} == {"verified"}
        assert_problem(await estate.call("GET", f"/promotions/{unknown}/deployments"), 404, "not-found")

    async def test_another_retailer_sees_nothing(
        self, small_estate: Estate, world: World, db: Database, clock: FrozenClock
    ) -> None:
        promotion_id = (await small_estate.promote(clock.now() + timedelta(days=1)))["id"]
        other = await factories.make_api_key(db, world.tenant_a2, SCOPES)
        for method, path in (
            ("GET", f"/promotions/{promotion_id}/deployments"),
            ("POST", f"/promotions/{promotion_id}/pause"),
            ("POST", f"/promotions/{promotion_id}/rollback"),
        ):
            assert_problem(await small_estate.call(method, path, other), 404, "not-found")
