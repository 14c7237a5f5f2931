"""The portal's API key page: admins create and revoke, viewers only look."""

from __future__ import annotations

import re
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from app.database.engine import Database
from app.database.scope import DbScope
from tenants.api_keys import ApiKey
from tests import factories
from tests.app.portal.forms import sign_in, submit
from tests.factories import PASSWORD, World


async def _keys(db: Database) -> list[ApiKey]:
    async with db.transaction(DbScope.system()) as session:
        return list((await session.scalars(select(ApiKey))).all())


class TestPortalApiKeys:
    async def test_anonymous_is_sent_to_sign_in(self, alpha: AsyncTestClient[Any]) -> None:
        response = await alpha.get("/keys", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/login"

    async def test_admin_creates_a_key_and_sees_the_secret_once(
        self, alpha: AsyncTestClient[Any], world: World, db: Database
    ) -> None:
        await sign_in(alpha, "admin@a1.example", PASSWORD)
        response = await submit(
            alpha, "/keys", "/keys", {"name": "pos bridge", "scopes": ["tenant:read", "stock:read"]}
        )
        assert response.status_code == 201
        secret = re.search(r'data-testid="new-secret">(ss_live_[^<]+)<', response.text)
        assert secret
        keys = await _keys(db)
        assert [(k.name, k.tenant_id, sorted(k.scopes)) for k in keys] == [
            ("pos bridge", world.tenant_a1.id, ["stock:read", "tenant:read"])
        ]
        again = await alpha.get("/keys")
        assert secret.group(1) not in again.text
        assert keys[0].prefix in again.text
        api = await alpha.get("/api/v1/tenant", headers={"Authorization": f"Bearer {secret.group(1)}"})
        assert api.status_code == 200

    async def test_admin_form_errors_are_shown_by_the_field(
        self, alpha: AsyncTestClient[Any], world: World, db: Database
    ) -> None:
        await sign_in(alpha, "admin@a1.example", PASSWORD)
        response = await submit(alpha, "/keys", "/keys", {"name": "", "scopes": ["nope:nope"]})
        assert response.status_code == 400
        assert "Give the key a name" in response.text
        assert "Pick at least one" in response.text
        assert await _keys(db) == []

    async def test_viewer_cannot_create_or_revoke(
        self, alpha: AsyncTestClient[Any], world: World, db: Database
    ) -> None:
        await factories.make_api_key(db, world.tenant_a1, ["tenant:read"])
        await sign_in(alpha, "viewer@a1.example", PASSWORD)
        page = await alpha.get("/keys")
        assert page.status_code == 200
        assert "New key" not in page.text
        created = await submit(alpha, "/keys", "/keys", {"name": "sneaky", "scopes": ["tenant:read"]})
        assert created.status_code == 403
        key = (await _keys(db))[0]
        revoked = await submit(alpha, "/keys", f"/keys/{key.id}/revoke", {})
        assert revoked.status_code == 403
        assert [(k.name, k.revoked_at) for k in await _keys(db)] == [("key", None)]

    async def test_admin_revokes_but_not_another_tenants_key(
        self, alpha: AsyncTestClient[Any], world: World, db: Database
    ) -> None:
        own = await factories.make_api_key(db, world.tenant_a1, ["tenant:read"], name="own")
        await factories.make_api_key(db, world.tenant_b1, ["tenant:read"], name="foreign")
        keys = {k.name: k for k in await _keys(db)}
        await sign_in(alpha, "admin@a1.example", PASSWORD)
        foreign = await submit(alpha, "/keys", f"/keys/{keys['foreign'].id}/revoke", {})
        assert foreign.status_code == 404
        response = await submit(alpha, "/keys", f"/keys/{keys['own'].id}/revoke", {})
        assert response.status_code == 303
        state = {k.name: k.revoked_at for k in await _keys(db)}
        assert state["own"] is not None
        assert state["foreign"] is None
        api = await alpha.get("/api/v1/tenant", headers={"Authorization": f"Bearer {own}"})
        assert api.status_code == 401
