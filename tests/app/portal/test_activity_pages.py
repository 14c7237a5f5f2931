"""Portal pages on the engine's work: runs with their detail, promotions with each destination's
deployment status (and the fragment htmx polls); other retailers' rows never show."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from litestar.testing import AsyncTestClient

from app.clock import FrozenClock
from app.database.engine import Database
from app.database.scope import DbScope
from app.promotions.models import PromotionDeployment, PromotionEntry
from tenants.roles import Role
from tests import factories
from tests.app.portal.forms import sign_in
from tests.app.portal.sync_facts import seed_sync_facts
from tests.factories import PASSWORD, World


class TestActivityPages:
    async def test_runs_and_a_runs_detail(
        self, alpha: AsyncTestClient[Any], world: World, db: Database, clock: FrozenClock
    ) -> None:
        await seed_sync_facts(alpha, world, db, clock.now())
        await sign_in(alpha, world.users["retailer_admin_a1"].email, PASSWORD)
        runs = await alpha.get("/runs")
        links = re.findall(r'href="(/runs/[0-9a-f-]{36})"', runs.text)
        assert len(links) == 2  # a1's two runs, not a2's
        details = [await alpha.get(link) for link in links]
        assert any("Read 0, written 10, skipped 0, failed 1." in d.text for d in details)
        assert all('data-testid="run-status">succeeded<' in d.text for d in details)

    async def test_a_promotion_with_its_deployments(
        self, alpha: AsyncTestClient[Any], world: World, db: Database, clock: FrozenClock
    ) -> None:
        facts = await seed_sync_facts(alpha, world, db, clock.now())
        now = clock.now()
        async with db.transaction(DbScope.system()) as session:
            entry = PromotionEntry(
                tenant_id=world.tenant_a1.id,
                code="WINTER",
                spec={"name": "Winter sale"},
                state="active",
                proposed_by="api_key:x",
                validation={},
                sequence=[],
                starts_at=now,
                ends_at=now + timedelta(days=3),
            )
            session.add(entry)
            await session.flush()
            session.add(
                PromotionDeployment(
                    tenant_id=world.tenant_a1.id,
                    promotion_id=entry.id,
                    destination_id=facts["destination"],
                    connection_name="stock to the app shop",
                    kind="erp",
                    stage=0,
                    goal="live",
                    status="failed",
                    attempts=2,
                    records=0,
                    last_error="HTTP 503 from the shop",
                )
            )
        await sign_in(alpha, world.users["retailer_admin_a1"].email, PASSWORD)
        listing = await alpha.get("/promotions")
        assert "WINTER" in listing.text
        page = await alpha.get(f"/promotions/{entry.id}")
        assert 'data-testid="promotion-state">active<' in page.text
        assert 'data-testid="deployment-status">failed<' in page.text
        assert "HTTP 503 from the shop" in page.text
        rows = await alpha.get(f"/promotions/{entry.id}/deployments")
        assert rows.text.lstrip().startswith('<tbody id="deployment-rows"')
        # another retailer of the same partner, on the same portal, sees nothing of it
        other = await factories.make_user(
            db, Role.RETAILER_ADMIN, tenant=world.tenant_a2, email="admin@a2.example"
        )
        token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
        assert token
        await alpha.post("/logout", data={"_csrf_token": token.group(1)})
        assert (await sign_in(alpha, other.email, PASSWORD)).status_code == 303
        assert (await alpha.get(f"/promotions/{entry.id}")).status_code == 404
        assert "WINTER" not in (await alpha.get("/promotions")).text
