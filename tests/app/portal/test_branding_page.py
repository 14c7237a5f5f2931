"""The partner's branding page: a live preview, contrast checked before saving, messages by the field,
the saved brand on every page at once, audited; retailers and operators cannot change it."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from app.database.engine import Database
from app.database.scope import DbScope
from tenants.audit import AuditEntry
from tests.app.portal.forms import csrf_token, sign_in, submit
from tests.factories import PASSWORD, World

GOOD = {
    "name": "Alpha Retail Cloud",
    "logo_url": "https://cdn.alpha.example/logo.svg",
    "favicon_url": "",
    "primary_color": "#0b3d2e",
    "accent_color": "#9be7c4",
    "support_email": "help@alpha.example",
    "footer_text": "Alpha Retail Cloud — integration services",
}


async def signed_in(client: AsyncTestClient[Any], world: World, user: str) -> None:
    response = await sign_in(client, world.users[user].email, PASSWORD)
    assert response.status_code == 303, response.text


class TestBrandingPage:
    async def test_preview_follows_the_form_and_names_contrast_problems(
        self, alpha: AsyncTestClient[Any], world: World
    ) -> None:
        await signed_in(alpha, world, "partner_admin_a")
        page = await alpha.get("/partner/branding")
        assert page.status_code == 200
        assert 'value="Alpha Commerce"' in page.text
        assert 'hx-post="/partner/branding/preview"' in page.text
        token = await csrf_token(alpha, "/partner/branding")
        preview = await alpha.post(
            "/partner/branding/preview",
            data={**GOOD, "primary_color": "#ffee00", "_csrf_token": token},
            headers={"HX-Request": "true"},
        )
        assert preview.status_code == 200
        assert "Alpha Retail Cloud" in preview.text
        assert "<html" not in preview.text  # a fragment for htmx to swap in
        assert 'data-field="primary_color"' in preview.text
        assert "WCAG AA asks for 4.5:1" in preview.text

    async def test_bad_values_are_refused_by_the_field_and_nothing_is_saved(
        self, alpha: AsyncTestClient[Any], world: World, db: Database
    ) -> None:
        await signed_in(alpha, world, "partner_admin_a")
        bad = {**GOOD, "primary_color": "#eeeeee", "logo_url": "javascript:alert(1)", "support_email": "nope"}
        response = await submit(alpha, "/partner/branding", "/partner/branding", bad)
        assert response.status_code == 422
        assert 'id="primary_color-error"' in response.text
        assert "too light: white text on it has a contrast of" in response.text
        assert 'id="logo_url-error"' in response.text
        assert 'id="support_email-error"' in response.text
        home = await alpha.get("/")
        assert "Alpha Commerce" in home.text  # unchanged
        async with db.transaction(DbScope.system()) as session:
            audited = (
                await session.scalars(
                    select(AuditEntry).where(AuditEntry.action == "partner.branding_changed")
                )
            ).all()
        assert audited == []

    async def test_saved_branding_shows_on_every_page_and_is_audited(
        self, alpha: AsyncTestClient[Any], world: World, db: Database
    ) -> None:
        await signed_in(alpha, world, "partner_admin_a")
        response = await submit(alpha, "/partner/branding", "/partner/branding", GOOD)
        assert response.status_code == 303
        assert response.headers["location"] == "/partner/branding?saved=true"
        home = await alpha.get("/")
        assert "Alpha Retail Cloud" in home.text
        assert "--brand-primary: #0b3d2e" in home.text
        assert "help@alpha.example" in home.text
        assert "Shelfsync" not in home.text
        async with db.transaction(DbScope.system()) as session:
            entry = await session.scalar(
                select(AuditEntry).where(AuditEntry.action == "partner.branding_changed")
            )
        assert entry is not None
        assert entry.changes["before"]["name"] == "Alpha Commerce"
        assert entry.changes["after"]["primary_color"] == "#0b3d2e"

    @pytest.mark.parametrize(("user", "status"), [("retailer_admin_a1", 404), ("partner_operator_a", 403)])
    async def test_only_partner_admins_brand(
        self, alpha: AsyncTestClient[Any], world: World, user: str, status: int
    ) -> None:
        await signed_in(alpha, world, user)
        assert (await alpha.get("/partner/branding")).status_code == status
