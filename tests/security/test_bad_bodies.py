"""Bad request bodies through the real HTTP stack: each gets a clear 4xx problem document, never a 500,
and nothing is written."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from app.clock import FrozenClock
from app.connections.models import Connection
from app.database.engine import Database
from app.database.scope import DbScope
from app.factory import create_app
from app.ingress.service import MAX_ITEMS
from app.settings import Settings
from tests import factories
from tests.app.api.calls import assert_problem, bearer
from tests.factories import World

CONNECTIONS = "/api/v1/connections"
SMALL_LIMIT = 64 * 1024


@pytest.fixture
async def key(world: World, db: Database) -> str:
    return await factories.make_api_key(db, world.tenant_a1, ["connections:write", "events:write"])


@pytest.fixture
async def small(settings: Settings, clock: FrozenClock) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """The app with a 64 KiB request limit (REQUEST_MAX_BODY_BYTES)."""
    app = create_app(replace(settings, request_max_body_bytes=SMALL_LIMIT), clock=clock)
    async with AsyncTestClient(app, base_url="https://localhost") as client:
        yield client


def hook_body(config: Any) -> dict[str, Any]:
    return {"name": "hook", "template": "webhook", "config": config}


async def connections_in(db: Database) -> int:
    async with db.transaction(DbScope.system()) as session:
        return int(await session.scalar(select(func.count()).select_from(Connection)) or 0)


class TestOversizedBody:
    async def test_over_the_configured_limit(
        self, small: AsyncTestClient[Any], key: str, db: Database
    ) -> None:
        body = hook_body({"secret": "s" * 24, "header": "x" * SMALL_LIMIT})
        assert_problem(
            await small.post(CONNECTIONS, json=body, headers=bearer(key)), 413, "payload-too-large"
        )
        assert await connections_in(db) == 0

    async def test_over_the_default_limit(
        self, client: AsyncTestClient[Any], key: str, settings: Settings
    ) -> None:
        body = b'{"items": [' + b" " * settings.request_max_body_bytes + b"]}"
        response = await client.post(
            "/api/v1/events/prices", content=body, headers={**bearer(key), "content-type": "application/json"}
        )
        assert_problem(response, 413, "payload-too-large")


class TestMalformedJson:
    async def test_deeply_nested(self, client: AsyncTestClient[Any], key: str, db: Database) -> None:
        deep = '{"a": ' * 100_000 + "1" + "}" * 100_000
        body = f'{{"name": "hook", "template": "webhook", "config": {{"secret": "{"s" * 24}", "x": {deep}}}}}'
        response = await client.post(
            CONNECTIONS, content=body, headers={**bearer(key), "content-type": "application/json"}
        )
        problem = assert_problem(response, 400, "bad-request")
        assert problem["errors"] == [{"path": "body", "reason": "nested too deeply"}]
        assert await connections_in(db) == 0

    async def test_moderately_nested_config_is_refused_by_the_schema(
        self, client: AsyncTestClient[Any], key: str, db: Database
    ) -> None:
        nested: dict[str, Any] = {}
        for _ in range(200):  # deep enough to trouble JSONB and recursion, small enough to parse
            nested = {"a": nested}
        response = await client.post(
            CONNECTIONS, json=hook_body({"secret": "s" * 24, "x": nested}), headers=bearer(key)
        )
        problem = assert_problem(response, 422, "invalid-config")
        assert any(error["path"].startswith("config") for error in problem["errors"])  # type: ignore[attr-defined]
        assert await connections_in(db) == 0

    async def test_invalid_utf8(self, client: AsyncTestClient[Any], key: str) -> None:
        body = b'{"name": "caf\xe9 \xff", "template": "webhook", "config": {}}'
        response = await client.post(
            CONNECTIONS, content=body, headers={**bearer(key), "content-type": "application/json"}
        )
        problem = assert_problem(response, 400, "bad-request")
        assert problem["errors"] == [{"path": "body", "reason": "not valid UTF-8"}]

    async def test_nul_in_a_string(self, client: AsyncTestClient[Any], key: str, db: Database) -> None:
        response = await client.post(
            CONNECTIONS, json=hook_body({"secret": "s" * 24}) | {"name": "nul\u0000name"}, headers=bearer(key)
        )
        assert 400 <= response.status_code < 500, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert await connections_in(db) == 0


class TestBatchOverTheMaximum:
    async def test_one_item_too_many(self, client: AsyncTestClient[Any], key: str) -> None:
        items = [{"sku": f"SKU-{n}", "amount": "1.00", "currency": "EUR"} for n in range(MAX_ITEMS + 1)]
        response = await client.post("/api/v1/events/prices", json={"items": items}, headers=bearer(key))
        problem = assert_problem(response, 400, "bad-request")
        assert any("items" in error["path"] for error in problem["errors"])  # type: ignore[attr-defined]
        assert str(MAX_ITEMS) in str(problem["errors"])


class TestWrongContentType:
    @pytest.mark.parametrize(
        "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", None]
    )
    async def test_refused(
        self, client: AsyncTestClient[Any], key: str, db: Database, content_type: str | None
    ) -> None:
        headers = bearer(key) | ({"content-type": content_type} if content_type else {})
        body = b'{"name": "hook", "template": "webhook", "config": {"secret": "ssssssssssssssssssss"}}'
        response = await client.post(CONNECTIONS, content=body, headers=headers)
        problem = assert_problem(response, 415, "unsupported-media-type")
        assert problem["errors"] == [{"path": "content-type", "reason": f"got {content_type or 'none'!r}"}]
        assert await connections_in(db) == 0

    async def test_json_with_a_charset_is_accepted(self, client: AsyncTestClient[Any], key: str) -> None:
        body = b'{"name": "hook", "template": "webhook", "config": {"secret": "ssssssssssssssssssss"}}'
        headers = bearer(key) | {"content-type": "application/json; charset=utf-8"}
        assert (await client.post(CONNECTIONS, content=body, headers=headers)).status_code == 201
