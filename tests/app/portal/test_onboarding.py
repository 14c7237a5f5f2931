"""The onboarding wizard, step by step through the portal: a retailer, an invited user, a connection to
a sandbox from a form made from the template's schema (secret never shown again; the real check), a
recipe from the template's default, a flow kept off, then go live; left and resumed where it stopped."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from app.database.engine import Database
from app.database.scope import DbScope
from app.flows.models import Flow
from app.mail.models import OutboundMail
from connectors.sandboxes import rest
from tests.app.portal.forms import sign_in, submit
from tests.connectors.serving import serve_in_thread
from tests.factories import PASSWORD, World


@pytest.fixture
def shop_url() -> Iterator[str]:
    with serve_in_thread(rest.create_app()) as url:
        yield url


async def follow(client: AsyncTestClient[Any], response: httpx.Response) -> httpx.Response:
    assert response.status_code == 303, response.text
    return await client.get(response.headers["location"])


class TestOnboardingWizard:
    async def test_a_retailer_from_details_to_live_resumable_on_the_way(
        self, alpha: AsyncTestClient[Any], world: World, db: Database, shop_url: str
    ) -> None:
        await sign_in(alpha, world.users["partner_admin_a"].email, PASSWORD)
        bad = await submit(
            alpha, "/partner/onboarding", "/partner/onboarding", {"name": "", "slug": "Not A Slug"}
        )
        assert bad.status_code == 422
        assert "Lower-case letters" in bad.text
        created = await submit(
            alpha, "/partner/onboarding", "/partner/onboarding", {"name": "Corner Shop", "slug": "corner"}
        )
        base = created.headers["location"].rsplit("/", 1)[0]
        users = await follow(alpha, created)
        assert "Onboarding Corner Shop" in users.text

        invited = await submit(
            alpha,
            f"{base}/users",
            f"{base}/invite",
            {"email": "owner@corner.example", "role": "retailer_admin"},
        )
        page = await follow(alpha, invited)
        assert "owner@corner.example" in page.text
        async with db.transaction(DbScope.system()) as session:
            mail = await session.scalar(
                select(OutboundMail).where(OutboundMail.to_address == "owner@corner.example")
            )
        assert mail is not None
        assert mail.subject == "You are invited to Corner Shop at Alpha Commerce"

        # left here; coming back resumes at connections
        resumed = await alpha.get(base, follow_redirects=False)
        assert resumed.headers["location"] == f"{base}/connections"

        form = await alpha.get(f"{base}/connections?template=rest")
        assert 'name="config.base_url"' in form.text
        assert 'name="config.api_key" type="password"' in form.text
        fields = {
            "template": "rest",
            "name": "web shop",
            "config.base_url": shop_url,
            "config.api_key": "sandbox-key",
        }
        refused = await submit(
            alpha,
            f"{base}/connections?template=rest",
            f"{base}/connect",
            fields | {"config.page_size": "many"},
        )
        assert refused.status_code == 422
        assert "sandbox-key" not in refused.text  # a secret is never sent back
        connected = await submit(alpha, f"{base}/connections?template=rest", f"{base}/connect", fields)
        page = await follow(alpha, connected)
        connection_id = re.search(r"/test/([0-9a-f-]{36})", page.text)
        assert connection_id
        token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
        assert token
        check = await alpha.post(
            f"{base}/test/{connection_id.group(1)}",
            data={"_csrf_token": token.group(1)},
            headers={"HX-Request": "true"},
        )
        assert 'data-testid="connection-check" class="badge ok"' in check.text

        recipes = await alpha.get(f"{base}/recipes")
        assert "Add web shop inventory outbound" in recipes.text
        added = await submit(
            alpha,
            f"{base}/recipes",
            f"{base}/add-recipe",
            {"connection": connection_id.group(1), "domain": "inventory", "direction": "outbound"},
        )
        flows_page = await follow(
            alpha,
            await submit(
                alpha,
                f"{base}/recipes",
                f"{base}/add-recipe",
                {"connection": connection_id.group(1), "domain": "prices", "direction": "outbound"},
            ),
        )
        assert added.status_code == 303
        destination = re.search(
            r'name="destination" value="([^"]+)"', (await alpha.get(f"{base}/flows")).text
        )
        assert destination
        flow = await submit(
            alpha,
            f"{base}/flows",
            f"{base}/add-flow",
            {"name": "stock out", "domain": "inventory", "destination": destination.group(1)},
        )
        assert flow.status_code == 303, flow.text
        assert (await alpha.get(base, follow_redirects=False)).headers["location"] == f"{base}/live"
        async with db.transaction(DbScope.system()) as session:
            assert (await session.scalar(select(Flow.is_enabled).where(Flow.name == "stock out"))) is False
        live = await follow(alpha, await submit(alpha, f"{base}/live", f"{base}/go-live", {}))
        assert "Corner Shop is live." in live.text
        async with db.transaction(DbScope.system()) as session:
            assert (await session.scalar(select(Flow.is_enabled).where(Flow.name == "stock out"))) is True
        assert flows_page.status_code == 200

    async def test_retailers_and_operators_without_write_cannot_onboard(
        self, alpha: AsyncTestClient[Any], world: World
    ) -> None:
        await sign_in(alpha, world.users["retailer_admin_a1"].email, PASSWORD)
        assert (await alpha.get("/partner/onboarding")).status_code == 404
