"""A retailer's users page: admins invite by e-mail (a mail with a link to choose a password; someone
who already has access is told so by the field), viewers only look; no page needs inline script."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from app.database.engine import Database
from app.database.scope import DbScope
from app.mail.models import OutboundMail
from tenants.roles import Role
from tests import factories
from tests.app.portal.forms import sign_in, submit
from tests.factories import PASSWORD, World

TEMPLATES = Path(__file__).resolve().parents[3] / "templates"


class TestUsersPage:
    async def test_admin_invites_and_a_second_invitation_is_refused_by_the_field(
        self, alpha: AsyncTestClient[Any], world: World, db: Database
    ) -> None:
        await sign_in(alpha, world.users["retailer_admin_a1"].email, PASSWORD)
        sent = await submit(
            alpha, "/users", "/users", {"email": "picker@a1.example", "role": "retailer_viewer"}
        )
        assert sent.headers["location"] == "/users?invited=picker@a1.example"
        page = await alpha.get("/users")
        assert "picker@a1.example" in page.text
        assert "invited" in page.text
        async with db.transaction(DbScope.system()) as session:
            mail = await session.scalar(
                select(OutboundMail).where(OutboundMail.to_address == "picker@a1.example")
            )
        assert mail is not None
        assert "/password-reset/" in mail.body
        again = await submit(
            alpha, "/users", "/users", {"email": "viewer@a1.example", "role": "retailer_viewer"}
        )
        assert again.status_code == 422
        assert "already has access" in again.text

    async def test_viewer_looks_but_cannot_invite(self, alpha: AsyncTestClient[Any], world: World) -> None:
        await sign_in(alpha, world.users["retailer_viewer_a1"].email, PASSWORD)
        page = await alpha.get("/users")
        assert "Send invitation" not in page.text
        refused = await submit(
            alpha, "/users", "/users", {"email": "x@a1.example", "role": "retailer_viewer"}
        )
        assert refused.status_code == 403

    def test_no_template_has_inline_script(self) -> None:
        offending = [
            path.name
            for path in TEMPLATES.rglob("*.html")
            if "<script>" in path.read_text() or " onclick=" in path.read_text()
        ]
        assert offending == []

    async def test_the_list_pages_fifty_at_a_time(
        self, alpha: AsyncTestClient[Any], world: World, db: Database
    ) -> None:
        for n in range(52):
            await factories.make_user(
                db, Role.RETAILER_VIEWER, tenant=world.tenant_a1, email=f"clerk{n:02d}@a1.example"
            )
        await sign_in(alpha, world.users["retailer_admin_a1"].email, PASSWORD)
        first = await alpha.get("/users")
        shown = re.findall(r"<tr><td>([^<]+@a1\.example)</td>", first.text)
        more = re.search(r'href="\?after=([^"]+)">More<', first.text)
        assert len(shown) == 50
        assert more
        second = await alpha.get(f"/users?after={more.group(1)}")
        rest = re.findall(r"<tr><td>([^<]+@a1\.example)</td>", second.text)
        assert len(rest) == 4  # 52 clerks, the admin and the viewer
        assert not set(shown) & set(rest)
