"""Portal sign-in: branding by host, CSRF, throttling, cookies, and which portal a user may use."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.app.portal.forms import sign_in, submit
from tests.factories import PASSWORD, World


@pytest.fixture
async def alpha(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A browser on partner Alpha's portal (alpha.localhost)."""
    async with AsyncTestClient(app, base_url="https://alpha.localhost") as client:
        yield client


class TestBranding:
    async def test_partner_portal_shows_only_the_partners_brand(
        self, alpha: AsyncTestClient[Any], world: World
    ) -> None:
        page = await alpha.get("/login")
        assert page.status_code == 200
        assert "Alpha Commerce" in page.text
        assert "--brand-primary: #112233" in page.text
        assert "shelfsync" not in page.text.lower()

    async def test_custom_domain_resolves_the_partner(self, app: Litestar, world: World, db: Any) -> None:
        from app.database.scope import DbScope
        from tenants.models import Partner

        async with db.transaction(DbScope.system()) as session:
            partner = await session.get(Partner, world.partner_b.id)
            partner.custom_domain = "portal.beta-systems.example"
        async with AsyncTestClient(app, base_url="https://portal.beta-systems.example") as client:
            page = await client.get("/login")
        assert "Beta Systems" in page.text
        assert "shelfsync" not in page.text.lower()


class TestSignIn:
    async def test_valid_credentials_start_a_session(self, alpha: AsyncTestClient[Any], world: World) -> None:
        response = await sign_in(alpha, "admin@a1.example", PASSWORD)
        assert response.status_code == 303
        assert response.headers["location"] == "/"
        cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("session="))
        assert "Secure" in cookie
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie.replace("Lax", "lax")
        home = await alpha.get("/")
        assert home.status_code == 200
        assert "retailer admin" in home.text
        assert "A1" in home.text

    async def test_wrong_password(self, alpha: AsyncTestClient[Any], world: World) -> None:
        response = await sign_in(alpha, "admin@a1.example", "not the password")
        assert response.status_code == 401
        assert "not right" in response.text
        assert (await alpha.get("/", follow_redirects=False)).status_code == 303

    async def test_missing_fields_are_named(self, alpha: AsyncTestClient[Any], world: World) -> None:
        response = await submit(alpha, "/login", "/login", {"email": "", "password": ""})
        assert response.status_code == 400
        assert response.text.count("Required.") == 2

    async def test_form_without_csrf_token_is_refused(
        self, alpha: AsyncTestClient[Any], world: World
    ) -> None:
        await alpha.get("/login")
        response = await alpha.post("/login", data={"email": "admin@a1.example", "password": PASSWORD})
        assert response.status_code == 403
        assert (await alpha.get("/", follow_redirects=False)).status_code == 303

    async def test_user_of_another_partner_cannot_sign_in_here(
        self, alpha: AsyncTestClient[Any], world: World
    ) -> None:
        response = await sign_in(alpha, "admin@b1.example", PASSWORD)
        assert response.status_code == 401

    async def test_sign_out_ends_the_session(self, alpha: AsyncTestClient[Any], world: World) -> None:
        await sign_in(alpha, "admin@a1.example", PASSWORD)
        response = await submit(alpha, "/", "/logout", {})
        assert response.status_code == 303
        assert (await alpha.get("/", follow_redirects=False)).headers["location"] == "/login"


class TestThrottling:
    async def test_account_is_locked_after_five_failures(
        self, alpha: AsyncTestClient[Any], world: World
    ) -> None:
        for _ in range(5):
            assert (await sign_in(alpha, "admin@a1.example", "wrong password!")).status_code == 401
        locked = await sign_in(alpha, "admin@a1.example", PASSWORD)
        assert locked.status_code == 429
        assert int(locked.headers["retry-after"]) > 0
        # another account from the same address is still allowed
        assert (await sign_in(alpha, "viewer@a1.example", PASSWORD)).status_code == 303

    async def test_address_is_locked_after_twenty_failures(
        self, alpha: AsyncTestClient[Any], world: World
    ) -> None:
        for index in range(20):
            await sign_in(alpha, f"nobody{index}@example.com", "wrong password!")
        assert (await sign_in(alpha, "admin@a1.example", PASSWORD)).status_code == 429


class TestSessionFixation:
    async def test_sign_in_issues_a_new_session_id(self, alpha: AsyncTestClient[Any], world: World) -> None:
        planted = "a" * 64
        alpha.cookies.set("session", planted, domain="alpha.localhost")
        response = await sign_in(alpha, "admin@a1.example", PASSWORD)
        assert response.status_code == 303
        issued = alpha.cookies.get("session")
        assert issued
        assert issued != planted
        assert (await alpha.get("/")).status_code == 200
        # whoever planted the old id holds nothing
        alpha.cookies.clear()
        alpha.cookies.set("session", planted, domain="alpha.localhost")
        assert (await alpha.get("/", follow_redirects=False)).status_code == 303
