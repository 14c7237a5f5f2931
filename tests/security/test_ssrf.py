"""SSRF: a connection whose URL names a loopback, link-local (cloud metadata) or private address is
refused when it is saved, 422 on the field's path, unless the host is on ``CONNECTOR_ALLOWED_HOSTS``.
The same guard on every outbound call is tested in tests/connectors/sdk/test_network.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from app.clock import FrozenClock
from app.connections.models import Connection
from app.database.engine import Database
from app.database.scope import DbScope
from app.factory import create_app
from app.settings import Settings
from tests import factories
from tests.app.api.calls import assert_problem, bearer
from tests.factories import World

PRIVATE = ["http://127.0.0.1:8080/api", "http://169.254.169.254/latest/meta-data/", "https://10.20.30.40/erp"]
PUBLIC = "https://93.184.215.14/api"
"""A public address written out, so the check needs no DNS."""


def production(settings: Settings, *allowed: str) -> Settings:
    return replace(settings, connector_allow_private=False, connector_allowed_hosts=frozenset(allowed))


@pytest.fixture
async def key(world: World, db: Database) -> str:
    return await factories.make_api_key(db, world.tenant_a1, ["connections:read", "connections:write"])


@pytest.fixture
async def strict(settings: Settings, clock: FrozenClock) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(
        create_app(production(settings), clock=clock), base_url="https://localhost"
    ) as c:
        yield c


def rest(base_url: str, **more: Any) -> dict[str, Any]:
    return {"name": "erp", "template": "rest", "config": {"base_url": base_url, "api_key": "k-123", **more}}


async def stored_urls(db: Database) -> list[str]:
    async with db.transaction(DbScope.system()) as session:
        return [row.config["base_url"] for row in await session.scalars(select(Connection))]


class TestPrivateAddresses:
    @pytest.mark.parametrize("url", PRIVATE)
    async def test_refused_on_create(
        self, strict: AsyncTestClient[Any], key: str, db: Database, url: str
    ) -> None:
        response = await strict.post("/api/v1/connections", json=rest(url), headers=bearer(key))
        problem = assert_problem(response, 422, "invalid-config")
        errors: list[dict[str, str]] = problem["errors"]  # type: ignore[assignment]
        [error] = errors
        assert error["path"] == "config.base_url"
        assert "private or local address" in error["reason"]
        assert await stored_urls(db) == []

    async def test_refused_on_update(self, strict: AsyncTestClient[Any], key: str, db: Database) -> None:
        created = await strict.post("/api/v1/connections", json=rest(PUBLIC), headers=bearer(key))
        assert created.status_code == 201, created.text
        response = await strict.patch(
            f"/api/v1/connections/{created.json()['id']}",
            json={"config": {"base_url": PRIVATE[1]}},
            headers=bearer(key),
        )
        problem = assert_problem(response, 422, "invalid-config")
        assert [error["path"] for error in problem["errors"]] == ["config.base_url"]  # type: ignore[attr-defined]
        assert await stored_urls(db) == [PUBLIC]

    async def test_token_url_is_checked_too(self, strict: AsyncTestClient[Any], key: str) -> None:
        body = rest(
            PUBLIC,
            auth_style="oauth2_client_credentials",
            token_url="http://169.254.169.254/token",
            client_id="shelfsync",
            client_secret="s3cret",
        )
        problem = assert_problem(
            await strict.post("/api/v1/connections", json=body, headers=bearer(key)), 422, "invalid-config"
        )
        assert [error["path"] for error in problem["errors"]] == ["config.token_url"]  # type: ignore[attr-defined]

    async def test_allow_listed_host(
        self, settings: Settings, clock: FrozenClock, key: str, db: Database
    ) -> None:
        app = create_app(production(settings, "10.20.30.40"), clock=clock)
        async with AsyncTestClient(app, base_url="https://localhost") as client:
            response = await client.post("/api/v1/connections", json=rest(PRIVATE[2]), headers=bearer(key))
            assert response.status_code == 201, response.text
            refused = await client.post(
                "/api/v1/connections", json=rest(PRIVATE[0]) | {"name": "other"}, headers=bearer(key)
            )
            assert_problem(refused, 422, "invalid-config")
        async with db.transaction(DbScope.system()) as session:
            assert await session.scalar(select(func.count()).select_from(Connection)) == 1
