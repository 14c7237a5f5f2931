"""API keys on /api/v1: authentication, scopes, and the key lifecycle."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from app.database.engine import Database
from app.database.scope import DbScope
from tenants.api_keys import ApiKey
from tenants.audit import AuditEntry
from tests import factories
from tests.app.api.calls import assert_problem, bearer
from tests.factories import World


class TestGetTenant:
    async def test_anonymous(self, client: AsyncTestClient[Any]) -> None:
        response = await client.get("/api/v1/tenant")
        assert_problem(response, 401, "missing-api-key")
        assert response.headers["www-authenticate"].startswith("Bearer")

    async def test_malformed_key(self, client: AsyncTestClient[Any]) -> None:
        assert_problem(await client.get("/api/v1/tenant", headers=bearer("nonsense")), 401, "invalid-api-key")

    async def test_unknown_key(self, client: AsyncTestClient[Any], world: World, db: Database) -> None:
        key = await factories.make_api_key(db, world.tenant_a1, ["tenant:read"])
        forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
        assert_problem(await client.get("/api/v1/tenant", headers=bearer(forged)), 401, "invalid-api-key")

    async def test_missing_scope(self, client: AsyncTestClient[Any], world: World, db: Database) -> None:
        key = await factories.make_api_key(db, world.tenant_a1, ["stock:read"])
        body = assert_problem(await client.get("/api/v1/tenant", headers=bearer(key)), 403, "missing-scope")
        assert body["required_scope"] == "tenant:read"

    async def test_valid(self, client: AsyncTestClient[Any], world: World, db: Database) -> None:
        key = await factories.make_api_key(db, world.tenant_a1, ["tenant:read"])
        response = await client.get("/api/v1/tenant", headers=bearer(key))
        assert response.status_code == 200
        body = response.json()
        assert body["id"] == str(world.tenant_a1.id)
        assert body["partner"]["slug"] == "alpha"
        assert body["plan"] == "standard"
        assert body["api_key_scopes"] == ["tenant:read"]
        assert response.headers["x-correlation-id"]

    async def test_last_used_is_tracked(
        self, client: AsyncTestClient[Any], world: World, db: Database
    ) -> None:
        key = await factories.make_api_key(db, world.tenant_a1, ["tenant:read"])
        await client.get("/api/v1/tenant", headers=bearer(key))
        async with db.transaction(DbScope.system()) as session:
            row = await session.scalar(select(ApiKey))
        assert row is not None
        assert row.last_used_at is not None

    async def test_correlation_id_is_echoed(self, client: AsyncTestClient[Any]) -> None:
        response = await client.get("/api/v1/tenant", headers={"X-Correlation-Id": "abc-123"})
        assert response.headers["x-correlation-id"] == "abc-123"


class TestCreateApiKey:
    async def test_anonymous(self, client: AsyncTestClient[Any]) -> None:
        response = await client.post("/api/v1/api-keys", json={"name": "x", "scopes": ["tenant:read"]})
        assert_problem(response, 401, "missing-api-key")

    async def test_missing_scope(self, client: AsyncTestClient[Any], world: World, db: Database) -> None:
        key = await factories.make_api_key(db, world.tenant_a1, ["tenant:read", "api_keys:read"])
        response = await client.post(
            "/api/v1/api-keys", json={"name": "x", "scopes": ["tenant:read"]}, headers=bearer(key)
        )
        assert_problem(response, 403, "missing-scope")

    async def test_valid_secret_shown_once_and_works(
        self, client: AsyncTestClient[Any], world: World, db: Database
    ) -> None:
        admin = await factories.make_api_key(
            db, world.tenant_a1, ["tenant:read", "api_keys:read", "api_keys:write"]
        )
        response = await client.post(
            "/api/v1/api-keys",
            json={"name": "erp bridge", "scopes": ["tenant:read"]},
            headers=bearer(admin),
        )
        assert response.status_code == 201, response.text
        created = response.json()
        secret = created["secret"]
        assert secret.startswith("ss_live_")
        assert secret.startswith(created["key"]["prefix"])
        assert (await client.get("/api/v1/tenant", headers=bearer(secret))).status_code == 200

        listing = await client.get("/api/v1/api-keys", headers=bearer(admin))
        assert listing.status_code == 200
        assert secret not in listing.text
        names = {item["name"]: item for item in listing.json()["items"]}
        assert names["erp bridge"]["prefix"] == created["key"]["prefix"]
        async with db.transaction(DbScope.system()) as session:
            stored = await session.scalar(select(ApiKey).where(ApiKey.name == "erp bridge"))
            audit = await session.scalar(select(AuditEntry).where(AuditEntry.action == "api_key.created"))
        assert stored is not None
        assert secret not in stored.secret_hash
        assert audit is not None
        assert audit.tenant_id == world.tenant_a1.id

    async def test_unknown_scope_is_422_with_path(
        self, client: AsyncTestClient[Any], world: World, db: Database
    ) -> None:
        admin = await factories.make_api_key(db, world.tenant_a1, ["api_keys:write"])
        response = await client.post(
            "/api/v1/api-keys", json={"name": "x", "scopes": ["root:all"]}, headers=bearer(admin)
        )
        body = assert_problem(response, 422, "unknown-scope")
        assert body["errors"] == [{"path": "scopes", "reason": "unknown scope 'root:all'"}]

    async def test_cannot_grant_scopes_it_lacks(
        self, client: AsyncTestClient[Any], world: World, db: Database
    ) -> None:
        admin = await factories.make_api_key(db, world.tenant_a1, ["api_keys:write"])
        response = await client.post(
            "/api/v1/api-keys",
            json={"name": "x", "scopes": ["events:write"]},
            headers=bearer(admin),
        )
        assert_problem(response, 403, "scope-escalation")
        async with db.transaction(DbScope.system()) as session:
            assert len((await session.scalars(select(ApiKey))).all()) == 1  # nothing half-written

    async def test_bad_body_is_400_problem(
        self, client: AsyncTestClient[Any], world: World, db: Database
    ) -> None:
        admin = await factories.make_api_key(db, world.tenant_a1, ["api_keys:write"])
        bodies: list[dict[str, Any]] = [
            {"name": "", "scopes": ["tenant:read"]},
            {"scopes": []},
            {"name": "x", "scopes": "a", "z": 1},
        ]
        for body in bodies:
            response = await client.post("/api/v1/api-keys", json=body, headers=bearer(admin))
            assert_problem(response, 400, "bad-request")
        response = await client.post(
            "/api/v1/api-keys",
            content=b"{not json",
            headers={**bearer(admin), "content-type": "application/json"},
        )
        assert_problem(response, 400, "bad-request")


class TestRevokeApiKey:
    async def test_revoked_key_gets_401(
        self, client: AsyncTestClient[Any], world: World, db: Database
    ) -> None:
        admin = await factories.make_api_key(
            db, world.tenant_a1, ["api_keys:read", "api_keys:write", "tenant:read"]
        )
        victim = await factories.make_api_key(db, world.tenant_a1, ["tenant:read"], name="victim")
        listing = (await client.get("/api/v1/api-keys", headers=bearer(admin))).json()["items"]
        victim_id = next(item["id"] for item in listing if item["name"] == "victim")
        response = await client.delete(f"/api/v1/api-keys/{victim_id}", headers=bearer(admin))
        assert response.status_code == 200
        assert response.json()["revoked_at"] is not None
        assert_problem(await client.get("/api/v1/tenant", headers=bearer(victim)), 401, "invalid-api-key")

    async def test_other_tenant(self, client: AsyncTestClient[Any], world: World, db: Database) -> None:
        admin_a = await factories.make_api_key(db, world.tenant_a1, ["api_keys:write"])
        await factories.make_api_key(db, world.tenant_b1, ["tenant:read"], name="b-key")
        async with db.transaction(DbScope.system()) as session:
            b_key = await session.scalar(select(ApiKey).where(ApiKey.name == "b-key"))
        assert b_key is not None
        response = await client.delete(f"/api/v1/api-keys/{b_key.id}", headers=bearer(admin_a))
        assert_problem(response, 404, "not-found")
        async with db.transaction(DbScope.system()) as session:
            assert (await session.get(ApiKey, b_key.id)).revoked_at is None  # type: ignore[union-attr]


class TestListApiKeys:
    async def test_other_tenants_keys_are_invisible(
        self, client: AsyncTestClient[Any], world: World, db: Database
    ) -> None:
        reader = await factories.make_api_key(db, world.tenant_a1, ["api_keys:read"])
        await factories.make_api_key(db, world.tenant_b1, ["tenant:read"], name="b-key")
        items = (await client.get("/api/v1/api-keys", headers=bearer(reader))).json()["items"]
        assert [item["name"] for item in items] == ["key"]

    async def test_cursor_pagination(self, client: AsyncTestClient[Any], world: World, db: Database) -> None:
        reader = await factories.make_api_key(db, world.tenant_a1, ["api_keys:read"], name="reader")
        for index in range(4):
            await factories.make_api_key(db, world.tenant_a1, ["tenant:read"], name=f"k{index}")
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/api/v1/api-keys", params=params, headers=bearer(reader))).json()
            seen += [item["name"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == ["k3", "k2", "k1", "k0", "reader"]
        bad = await client.get("/api/v1/api-keys", params={"cursor": "%%%"}, headers=bearer(reader))
        assert_problem(bad, 400, "invalid-cursor")
        too_big = await client.get("/api/v1/api-keys", params={"limit": 10_000}, headers=bearer(reader))
        assert too_big.status_code == 400
