"""/api/v1/connections: config validated against the template's schema, secrets sealed and never
returned, the template's real connection check, partner-derived templates with locked fields."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from app.clock import FrozenClock
from app.connections.models import Connection
from app.connections.templates import derive_template
from app.database.engine import Database
from app.database.scope import DbScope
from app.settings import Settings
from tenants.audit import Actor, AuditEntry
from tests import factories
from tests.app.api.calls import assert_problem, bearer
from tests.app_cache import AppCache, with_empty_file_root
from tests.connectors.flatfile.sftp_server import SftpServer, sftp_server_in_thread
from tests.factories import World

SCOPES = ["connections:read", "connections:write"]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SftpServer]:
    with sftp_server_in_thread(tmp_path / "sftp") as running:
        yield running


@pytest.fixture
def app(
    apps: AppCache, settings: Settings, clock: FrozenClock, tmp_path_factory: pytest.TempPathFactory
) -> Litestar:
    """The app with tenant file folders under a folder of the run's, emptied before each test."""
    return apps.app(with_empty_file_root(settings, tmp_path_factory), clock)


@pytest.fixture
async def key(world: World, db: Database) -> str:
    return await factories.make_api_key(db, world.tenant_a1, SCOPES)


def sftp_body(server: SftpServer, name: str = "store files", **overrides: Any) -> dict[str, Any]:
    config = {
        "transport": "sftp",
        "host": server.host,
        "port": server.port,
        "username": server.username,
        "password": server.password,
        "known_hosts": server.known_hosts,
    }
    return {"name": name, "template": "flatfile", "config": config | overrides}


async def create(client: AsyncTestClient[Any], key: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/api/v1/connections", json=body, headers=bearer(key))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


class TestCreateConnection:
    async def test_anonymous(self, client: AsyncTestClient[Any]) -> None:
        assert_problem(await client.post("/api/v1/connections", json={}), 401, "missing-api-key")

    async def test_missing_scope(
        self, client: AsyncTestClient[Any], world: World, db: Database, server: SftpServer
    ) -> None:
        reader = await factories.make_api_key(db, world.tenant_a1, ["connections:read"])
        response = await client.post("/api/v1/connections", json=sftp_body(server), headers=bearer(reader))
        assert_problem(response, 403, "missing-scope")

    async def test_valid_seals_the_secret_and_never_returns_it(
        self, client: AsyncTestClient[Any], key: str, server: SftpServer, db: Database
    ) -> None:
        body = await create(client, key, sftp_body(server))
        assert body["template"] == "flatfile"
        assert body["secrets_set"] == ["password"]
        assert "password" not in body["config"]
        assert body["config"]["grouping"] == "store"  # the template's default is filled in
        async with db.transaction(DbScope.system()) as session:
            row = await session.scalar(select(Connection))
            audit = (
                await session.scalars(select(AuditEntry).where(AuditEntry.target_type == "connection"))
            ).all()
        assert row is not None
        assert row.secrets_sealed is not None
        assert server.password not in row.secrets_sealed
        assert server.password not in str(row.config)
        assert [entry.action for entry in audit] == ["connection.created"]
        assert server.password not in str(audit[0].changes)

    async def test_invalid_config_names_each_path(self, client: AsyncTestClient[Any], key: str) -> None:
        body = {
            "name": "x",
            "template": "flatfile",
            "config": {"transport": "sftp", "port": 0, "colour": "red"},
        }
        problem = assert_problem(
            await client.post("/api/v1/connections", json=body, headers=bearer(key)), 422, "invalid-config"
        )
        paths = {e["path"] for e in problem["errors"]}  # type: ignore[attr-defined]
        assert {"config.port", "config.host", "config.username"} <= paths
        assert any("colour" in e["reason"] for e in problem["errors"])  # type: ignore[attr-defined]

    async def test_unknown_template(self, client: AsyncTestClient[Any], key: str) -> None:
        body = {"name": "x", "template": "sap-r2", "config": {}}
        problem = assert_problem(
            await client.post("/api/v1/connections", json=body, headers=bearer(key)), 422, "unknown-template"
        )
        assert problem["errors"] == [{"path": "template", "reason": "no template 'sap-r2'"}]

    async def test_duplicate_name(self, client: AsyncTestClient[Any], key: str, server: SftpServer) -> None:
        await create(client, key, sftp_body(server))
        response = await client.post("/api/v1/connections", json=sftp_body(server), headers=bearer(key))
        assert_problem(response, 409, "duplicate-name")

    async def test_local_folder_must_stay_inside_the_tenant_folder(
        self, client: AsyncTestClient[Any], app: Litestar, key: str, world: World
    ) -> None:
        outside = {"name": "etc", "template": "flatfile", "config": {"transport": "folder", "path": "/etc"}}
        problem = assert_problem(
            await client.post("/api/v1/connections", json=outside, headers=bearer(key)), 422, "invalid-config"
        )
        assert problem["errors"][0]["path"] == "config.path"  # type: ignore[index]
        sneaky = {"name": "up", "template": "flatfile", "config": {"transport": "folder", "path": "../other"}}
        assert_problem(
            await client.post("/api/v1/connections", json=sneaky, headers=bearer(key)), 422, "invalid-config"
        )
        inside = await create(
            client,
            key,
            {"name": "drop", "template": "flatfile", "config": {"transport": "folder", "path": "pos"}},
        )
        assert inside["config"]["path"] == str(
            (app.state.services.settings.file_root / str(world.tenant_a1.id) / "pos").resolve()
        )


class TestTestConnection:
    async def test_real_check_ok_then_clear_failure_after_a_password_change(
        self, client: AsyncTestClient[Any], key: str, server: SftpServer
    ) -> None:
        created = await create(client, key, sftp_body(server))
        url = f"/api/v1/connections/{created['id']}"
        ok = await client.post(f"{url}/test", headers=bearer(key))
        assert ok.status_code == 200, ok.text
        assert ok.json()["ok"] is True, ok.json()
        changed = await client.patch(url, json={"config": {"password": "wrong"}}, headers=bearer(key))
        assert changed.status_code == 200
        assert changed.json()["config"]["host"] == server.host  # untouched fields stay
        failed = (await client.post(f"{url}/test", headers=bearer(key))).json()
        assert failed["ok"] is False
        assert failed["detail"] == "SFTP server rejected the username or password"
        shown = (await client.get(url, headers=bearer(key))).json()
        assert shown["last_check_ok"] is False
        assert shown["last_check_detail"] == failed["detail"]

    async def test_other_tenant(
        self, client: AsyncTestClient[Any], key: str, server: SftpServer, world: World, db: Database
    ) -> None:
        created = await create(client, key, sftp_body(server))
        stranger = await factories.make_api_key(db, world.tenant_a2, SCOPES)
        url = f"/api/v1/connections/{created['id']}"
        assert_problem(await client.post(f"{url}/test", headers=bearer(stranger)), 404, "not-found")
        assert_problem(await client.get(url, headers=bearer(stranger)), 404, "not-found")
        assert_problem(await client.delete(url, headers=bearer(stranger)), 404, "not-found")


class TestUpdateAndDelete:
    async def test_update_keeps_secrets_not_given_and_audits_names_only(
        self, client: AsyncTestClient[Any], key: str, server: SftpServer, db: Database
    ) -> None:
        created = await create(client, key, sftp_body(server))
        url = f"/api/v1/connections/{created['id']}"
        response = await client.patch(
            url, json={"name": "renamed", "config": {"grouping": "region"}}, headers=bearer(key)
        )
        assert response.status_code == 200, response.text
        assert response.json()["name"] == "renamed"
        assert response.json()["secrets_set"] == ["password"]
        assert (await client.post(f"{url}/test", headers=bearer(key))).json()["ok"] is True
        async with db.transaction(DbScope.system()) as session:
            entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "connection.updated"))
        assert entry is not None
        assert entry.changes == {
            "name": {"before": "store files", "after": "renamed"},
            "config": ["grouping"],
        }

    async def test_delete(self, client: AsyncTestClient[Any], key: str, server: SftpServer) -> None:
        created = await create(client, key, sftp_body(server))
        url = f"/api/v1/connections/{created['id']}"
        assert (await client.delete(url, headers=bearer(key))).status_code == 204
        assert_problem(await client.get(url, headers=bearer(key)), 404, "not-found")

    async def test_list_paginates(self, client: AsyncTestClient[Any], key: str, server: SftpServer) -> None:
        for n in range(3):
            await create(client, key, sftp_body(server, name=f"c{n}"))
        first = (await client.get("/api/v1/connections?limit=2", headers=bearer(key))).json()
        assert [c["name"] for c in first["items"]] == ["c2", "c1"]
        rest = (
            await client.get(
                f"/api/v1/connections?limit=2&cursor={first['next_cursor']}", headers=bearer(key)
            )
        ).json()
        assert [c["name"] for c in rest["items"]] == ["c0"]


class TestPartnerTemplate:
    @pytest.fixture
    async def derived(self, world: World, db: Database, server: SftpServer) -> None:
        async with db.transaction(DbScope.system()) as session:
            await derive_template(
                session,
                Actor("system", "test"),
                partner_id=world.partner_a.id,
                key="alpha-pos-drop",
                name="Alpha POS file drop",
                base_key="flatfile",
                defaults={
                    "transport": "sftp",
                    "host": server.host,
                    "port": server.port,
                    "known_hosts": server.known_hosts,
                },
                locked=["transport", "host", "port"],
            )

    async def test_retailer_gives_only_credentials(
        self, client: AsyncTestClient[Any], key: str, server: SftpServer, derived: None
    ) -> None:
        body = {
            "name": "pos",
            "template": "alpha-pos-drop",
            "config": {"username": server.username, "password": server.password},
        }
        created = await create(client, key, body)
        assert created["config"]["host"] == server.host
        check = (await client.post(f"/api/v1/connections/{created['id']}/test", headers=bearer(key))).json()
        assert check["ok"] is True, check

    async def test_locked_field_refused(
        self, client: AsyncTestClient[Any], key: str, server: SftpServer, derived: None
    ) -> None:
        body = {
            "name": "pos",
            "template": "alpha-pos-drop",
            "config": {"host": "10.0.0.9", "username": "u", "password": "p"},
        }
        problem = assert_problem(
            await client.post("/api/v1/connections", json=body, headers=bearer(key)), 422, "invalid-config"
        )
        assert problem["errors"] == [{"path": "config.host", "reason": "is locked by your partner"}]

    async def test_listed_for_the_partners_retailers_only(
        self, client: AsyncTestClient[Any], key: str, world: World, db: Database, derived: None
    ) -> None:
        mine = (await client.get("/api/v1/connector-templates", headers=bearer(key))).json()
        derived_entry = next(t for t in mine if t["key"] == "alpha-pos-drop")
        assert derived_entry["base_key"] == "flatfile"
        assert derived_entry["locked"] == ["host", "port", "transport"]
        assert derived_entry["config_schema"]["properties"]["host"]["readOnly"] is True
        assert {"vendure", "tryton", "shopify", "flatfile", "edi-x12"} <= {t["key"] for t in mine}
        other = await factories.make_api_key(db, world.tenant_b1, SCOPES)
        theirs = (await client.get("/api/v1/connector-templates", headers=bearer(other))).json()
        assert "alpha-pos-drop" not in {t["key"] for t in theirs}
        body = {"name": "pos", "template": "alpha-pos-drop", "config": {}}
        assert_problem(
            await client.post("/api/v1/connections", json=body, headers=bearer(other)),
            422,
            "unknown-template",
        )
