"""API key brute force: wrong keys from one client address are counted in Redis (shared by every web
process); past the limit that address gets 429 with ``Retry-After``, while other addresses and their
valid keys go on as before. A request without a key guesses nothing and is not counted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from litestar.types import ASGIApp, Receive, Scope, Send

from app.api.auth import ApiKeyThrottle
from app.clock import FrozenClock
from app.database.engine import Database
from app.factory import create_app
from app.settings import Settings
from tests import factories
from tests.app.api.calls import assert_problem, bearer
from tests.factories import World

LIMIT = ApiKeyThrottle.limit
WRONG = "ss_live_00000000_" + "x" * 43


def addressed(app: ASGIApp) -> ASGIApp:
    """The app as reached from the address in the ``x-test-address`` header (the test transport has one)."""

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        if "headers" in scope:  # http, not lifespan
            headers = dict(scope["headers"])
            address = headers.get(b"x-test-address", b"192.0.2.1").decode()
            scope["client"] = (address, 40000)
        await app(scope, receive, send)

    return asgi


@pytest.fixture
async def web(app: Litestar) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(addressed(app), base_url="https://localhost") as client:
        yield client


@pytest.fixture
async def key(world: World, db: Database) -> str:
    return await factories.make_api_key(db, world.tenant_a1, ["tenant:read"])


def source(address: str, token: str | None = None) -> dict[str, str]:
    return {"x-test-address": address, **(bearer(token) if token else {})}


async def guess(client: AsyncTestClient[Any], address: str, times: int) -> None:
    for _ in range(times):
        response = await client.get("/api/v1/tenant", headers=source(address, WRONG))
        assert_problem(response, 401, "invalid-api-key")


class TestApiKeyThrottle:
    async def test_wrong_keys_from_one_address(self, web: AsyncTestClient[Any], key: str) -> None:
        await guess(web, "198.51.100.7", LIMIT)
        refused = await web.get("/api/v1/tenant", headers=source("198.51.100.7", WRONG))
        problem = assert_problem(refused, 429, "too-many-failed-keys")
        assert 0 < int(refused.headers["retry-after"]) <= ApiKeyThrottle.window_seconds
        assert "API key" in str(problem["detail"])
        # a right key does not reopen the address before the window ends
        assert (await web.get("/api/v1/tenant", headers=source("198.51.100.7", key))).status_code == 429

    async def test_another_address_is_not_slowed(self, web: AsyncTestClient[Any], key: str) -> None:
        await guess(web, "198.51.100.7", LIMIT)
        response = await web.get("/api/v1/tenant", headers=source("203.0.113.9", key))
        assert response.status_code == 200, response.text
        await guess(web, "203.0.113.9", 1)  # and its own wrong keys are still just 401

    async def test_requests_without_a_key_are_not_counted(self, web: AsyncTestClient[Any], key: str) -> None:
        for _ in range(LIMIT + 5):
            assert_problem(
                await web.get("/api/v1/tenant", headers=source("198.51.100.7")), 401, "missing-api-key"
            )
        assert (await web.get("/api/v1/tenant", headers=source("198.51.100.7", key))).status_code == 200

    async def test_shared_by_every_web_process(
        self, web: AsyncTestClient[Any], settings: Settings, clock: FrozenClock, key: str
    ) -> None:
        await guess(web, "198.51.100.7", LIMIT)
        other_process = create_app(settings, clock=clock)
        async with AsyncTestClient(addressed(other_process), base_url="https://localhost") as other:
            refused = await other.get("/api/v1/tenant", headers=source("198.51.100.7", WRONG))
            assert_problem(refused, 429, "too-many-failed-keys")
