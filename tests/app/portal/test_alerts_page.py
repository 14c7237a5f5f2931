"""The retailer's alerts page: its rules and the incidents open now, no other retailer's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient

from app.alerts.evaluation import evaluate_alerts
from app.alerts.service import RuleSpec
from app.clock import FrozenClock
from app.database.engine import Database
from app.settings import Settings
from tests.app.alerts.conftest import dead_letters, make_rule
from tests.app.api.test_dead_letters import make_destination
from tests.app.portal.forms import sign_in
from tests.factories import PASSWORD, World


class TestAlertsPage:
    async def test_anonymous(self, alpha: AsyncTestClient[Any]) -> None:
        response = await alpha.get("/alerts", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/login"

    async def test_retailer_sees_its_rules_and_open_incidents(
        self,
        alpha: AsyncTestClient[Any],
        world: World,
        db: Database,
        settings: Settings,
        clock: FrozenClock,
        tmp_path: Path,
    ) -> None:
        shop = await make_destination(db, settings, tmp_path, world.tenant_a1, "shop")
        await make_destination(db, settings, tmp_path, world.tenant_a1, "outlet")
        await make_rule(
            db,
            settings,
            world.tenant_a1,
            RuleSpec("stuck letters", "dead_letters_open", ">", 1, emails=["ops@a1.example"]),
        )
        await make_rule(
            db,
            settings,
            world.tenant_a2,
            RuleSpec("a2 rule", "success_rate", "<", 99, emails=["ops@a2.example"]),
        )
        await dead_letters(db, world.tenant_a1, shop, 2)
        await evaluate_alerts(db, clock.now())
        await sign_in(alpha, world.users["retailer_admin_a1"].email, PASSWORD)
        page = await alpha.get("/alerts")
        assert page.status_code == 200
        open_incidents = page.text.split('data-testid="open-incidents"')[1].split("</table>")[0]
        assert "stuck letters" in open_incidents
        assert "shop stock" in open_incidents
        assert "outlet stock" not in open_incidents
        assert "<code>dead_letters_open &gt; 1</code>" in page.text
        assert "ops@a1.example" in page.text
        assert "a2 rule" not in page.text
