"""Portal pages on sync health: the partner's retailers with badges, a retailer's flows with their
figures (and the fragment htmx polls), and dead letters replayed or discarded from the page."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from app.clock import FrozenClock
from app.database.engine import Database
from app.database.scope import DbScope
from app.delivery.models import DeadLetter, QueuedDelivery
from app.flows.models import Run
from connectors.recipes import default_recipe
from tenants.audit import AuditEntry
from tests import factories
from tests.app.portal.forms import sign_in, submit
from tests.factories import PASSWORD, World

SCOPES = ["connections:write", "recipes:write", "flows:write"]


@pytest.fixture
async def alpha(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app, base_url="https://alpha.localhost") as client:
        yield client


async def wire_flow(client: AsyncTestClient[Any], key: str, name: str) -> tuple[uuid.UUID, uuid.UUID]:
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


@pytest.fixture
async def estate(
    alpha: AsyncTestClient[Any], world: World, db: Database, clock: FrozenClock
) -> dict[str, Any]:
    """Tenant a1: a healthy flow and one with a dead letter; tenant a2: a flow delivering 99 %."""
    key_a1 = await factories.make_api_key(db, world.tenant_a1, SCOPES)
    key_a2 = await factories.make_api_key(db, world.tenant_a2, SCOPES)
    healthy, _ = await wire_flow(alpha, key_a1, "stock to the web")
    troubled, destination = await wire_flow(alpha, key_a1, "stock to the app")
    degraded, _ = await wire_flow(alpha, key_a2, "stock to the marketplace")
    now = clock.now()
    await record_runs(db, world.tenant_a1.id, healthy, now, 100, 0)
    await record_runs(db, world.tenant_a1.id, troubled, now, 10, 1)
    await record_runs(db, world.tenant_a2.id, degraded, now, 990, 10)
    letters = [await dead_letter(db, world.tenant_a1.id, destination, sku) for sku in ("SKU-1", "SKU-2")]
    return {"destination": destination, "letters": letters}


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
