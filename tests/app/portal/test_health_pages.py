"""Portal pages on sync health: the partner's retailers with badges, a retailer's flows with their
figures (and the fragment htmx polls), and dead letters replayed or discarded from the page."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from app.clock import FrozenClock
from app.database.engine import Database
from app.database.scope import DbScope
from app.delivery.models import DeadLetter, QueuedDelivery
from app.flows.latency import histogram, percentile
from app.flows.models import Run
from app.promotions.models import PromotionDeployment, PromotionEntry
from tenants.audit import AuditEntry
from tests import factories
from tests.app.portal.forms import sign_in, submit
from tests.app.portal.sync_facts import LATENCY_MS, SCOPES, seed_sync_facts, wire_flow
from tests.factories import PASSWORD, World


@pytest.fixture
async def estate(
    alpha: AsyncTestClient[Any], world: World, db: Database, clock: FrozenClock
) -> dict[str, Any]:
    return await seed_sync_facts(alpha, world, db, clock.now())


class TestHealthPages:
    async def test_partner_sees_each_retailer_with_its_badge(
        self, alpha: AsyncTestClient[Any], world: World, estate: dict[str, Any]
    ) -> None:
        await sign_in(alpha, world.users["partner_admin_a"].email, PASSWORD)
        page = await alpha.get("/partner/retailers")
        assert page.status_code == 200
        badges = dict(
            re.findall(r'data-tenant="([^"]+)">.*?data-testid="tenant-health">(\w+)<', page.text, re.S)
        )
        assert badges == {"a1": "failing", "a2": "degraded"}

    async def test_retailer_sees_its_flows_and_the_polled_fragment(
        self, alpha: AsyncTestClient[Any], world: World, estate: dict[str, Any]
    ) -> None:
        await sign_in(alpha, world.users["retailer_admin_a1"].email, PASSWORD)
        page = await alpha.get("/health")
        assert page.status_code == 200
        assert 'data-testid="overall-status">failing<' in page.text
        assert "2 dead letter(s) in the last hour" in page.text
        edge = percentile(histogram([LATENCY_MS]), 0.99)
        assert edge is not None
        assert LATENCY_MS <= edge <= LATENCY_MS * 1.1
        assert f"{edge:g} / {edge:g} / {edge:g}" in page.text  # p50 / p95 / p99
        assert "100.0 %" in page.text
        assert "90.9 %" in page.text
        assert "stock to the marketplace" not in page.text  # another retailer's flow
        fragment = await alpha.get("/health/flows", headers={"HX-Request": "true"})
        assert fragment.text.lstrip().startswith(
            '<tbody id="flow-rows" hx-get="/health/flows" hx-trigger="every 10s"'
        )

    async def test_dead_letters_replayed_and_discarded_from_the_page_with_audit(
        self, alpha: AsyncTestClient[Any], world: World, estate: dict[str, Any], db: Database
    ) -> None:
        await sign_in(alpha, world.users["retailer_admin_a1"].email, PASSWORD)
        page = await alpha.get("/dead-letters")
        assert "HTTP 422: unknown SKU" in page.text
        assert "corr-123" in page.text
        first, second = estate["letters"]
        replayed = await submit(
            alpha, "/dead-letters", "/dead-letters/act", {"action": "replay", "ids": [str(first)]}
        )
        assert replayed.status_code == 303
        assert replayed.headers["location"] == "/dead-letters?done=1&skipped=0"
        again = await submit(
            alpha,
            "/dead-letters",
            "/dead-letters/act",
            {"action": "discard", "ids": [str(first), str(second)]},
        )
        assert again.headers["location"] == "/dead-letters?done=1&skipped=1"  # the first is no longer open
        async with db.transaction(DbScope.system()) as session:
            statuses = dict((await session.execute(select(DeadLetter.id, DeadLetter.status))).all())
            queued = (await session.scalars(select(QueuedDelivery.entity_key))).all()
            actions = (
                await session.scalars(
                    select(AuditEntry.action).where(AuditEntry.target_type == "dead_letter")
                )
            ).all()
        assert statuses == {first: "replayed", second: "discarded"}
        assert queued == ["SKU-1"]
        assert sorted(actions) == ["dead_letter.discarded", "dead_letter.replayed"]

    async def test_viewer_reads_but_cannot_act(
        self, alpha: AsyncTestClient[Any], world: World, estate: dict[str, Any]
    ) -> None:
        await sign_in(alpha, world.users["retailer_viewer_a1"].email, PASSWORD)
        page = await alpha.get("/dead-letters")
        assert "HTTP 422: unknown SKU" in page.text
        assert "Replay selected" not in page.text
        refused = await submit(
            alpha,
            "/dead-letters",
            "/dead-letters/act",
            {"action": "replay", "ids": [str(estate["letters"][0])]},
        )
        assert refused.status_code == 403


class TestRetailerListPages:
    async def test_the_list_pages_fifty_at_a_time(
        self, alpha: AsyncTestClient[Any], world: World, db: Database
    ) -> None:
        for n in range(53):
            await factories.make_tenant(db, world.partner_a, f"shop-{n:02d}")
        await sign_in(alpha, world.users["partner_admin_a"].email, PASSWORD)
        first = await alpha.get("/partner/retailers")
        shown = re.findall(r'data-tenant="([^"]+)"', first.text)
        more = re.search(r'href="\?cursor=([^"]+)">More<', first.text)
        assert len(shown) == 50
        assert more
        second = await alpha.get(f"/partner/retailers?cursor={more.group(1)}")
        rest = re.findall(r'data-tenant="([^"]+)"', second.text)
        assert len(rest) == 5  # 53 + a1 + a2
        assert not set(shown) & set(rest)
        assert ">More<" not in second.text


class TestHealthApi:
    async def test_the_api_gives_the_same_badges_and_figures(
        self, alpha: AsyncTestClient[Any], world: World, db: Database, estate: dict[str, Any]
    ) -> None:
        key = await factories.make_api_key(db, world.tenant_a1, ["health:read"])
        response = await alpha.get("/api/v1/health", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "failing"
        flows = {f["name"]: f for f in body["flows"]}
        assert set(flows) == {"stock to the web", "stock to the app"}
        troubled = flows["stock to the app"]
        assert (troubled["status"], troubled["delivered"], troubled["failed"]) == ("failing", 10, 1)
        assert troubled["dead_letters_recent"] == 2
        assert flows["stock to the web"]["status"] == "ok"
        assert flows["stock to the web"]["latency_ms"]["p99"] >= LATENCY_MS
        assert "failing" in body["rules"]
        reader = await factories.make_api_key(db, world.tenant_a1, ["stock:read"])
        refused = await alpha.get("/api/v1/health", headers={"Authorization": f"Bearer {reader}"})
        assert refused.status_code == 403

    async def test_drift_and_late_promotions_degrade_a_flow(
        self, alpha: AsyncTestClient[Any], world: World, db: Database, clock: FrozenClock
    ) -> None:
        key = await factories.make_api_key(db, world.tenant_a1, [*SCOPES, "health:read"])
        drifting, _ = await wire_flow(alpha, key, "stock checked nightly")
        _, destination = await wire_flow(alpha, key, "prices to the app")
        now = clock.now()
        async with db.transaction(DbScope.system()) as session:
            for drifted, finished in ((5, now - timedelta(days=1)), (3, now - timedelta(hours=2))):
                run = Run.begin(
                    tenant_id=world.tenant_a1.id, flow_id=drifting, kind="reconcile", started_at=finished
                )
                run.details, run.status, run.finished_at = {"drifted": drifted}, "succeeded", finished
                session.add(run)
            promotion = PromotionEntry(
                tenant_id=world.tenant_a1.id,
                code="LATE",
                spec={},
                proposed_by="t",
                starts_at=now - timedelta(minutes=3),
            )
            session.add(promotion)
            await session.flush()
            session.add(
                PromotionDeployment(
                    tenant_id=world.tenant_a1.id,
                    promotion_id=promotion.id,
                    destination_id=destination,
                    connection_name="app",
                    kind="ecommerce",
                    stage=1,
                    status="verified",
                    deployed_at=now - timedelta(minutes=1, seconds=30),
                    lateness_ms=90_000,
                )
            )
        body = (await alpha.get("/api/v1/health", headers={"Authorization": f"Bearer {key}"})).json()
        flows = {f["name"]: f for f in body["flows"]}
        assert (flows["stock checked nightly"]["status"], flows["stock checked nightly"]["drifted"]) == (
            "degraded",
            3,
        )
        assert "the last reconciliation found 3 drifted" in flows["stock checked nightly"]["reasons"]
        assert (
            flows["prices to the app"]["status"],
            flows["prices to the app"]["promotion_lateness_ms"],
        ) == (
            "degraded",
            90_000,
        )
        assert "a promotion went live 90 s late" in flows["prices to the app"]["reasons"]
        assert body["status"] == "degraded"
