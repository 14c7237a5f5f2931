"""Problem documents for errors raised outside any handler's own mapping: outages are 503, never 500."""

from __future__ import annotations

import pytest
from litestar import Litestar, get
from litestar.testing import AsyncTestClient

from app.http.problems import problem_response
from tests.app.api.calls import assert_problem


def failing_app(error: Exception) -> Litestar:
    @get("/api/v1/stock")
    async def stock() -> None:
        raise error

    return Litestar(route_handlers=[stock], exception_handlers={Exception: problem_response})


class TestOutages:
    @pytest.mark.parametrize(
        "error",
        [
            TimeoutError(),  # asyncpg's connect and command timeouts carry no message
            ConnectionRefusedError(111, "Connect call failed"),
            OSError(),
        ],
    )
    async def test_database_unreachable_is_503(self, error: Exception) -> None:
        async with AsyncTestClient(failing_app(error)) as client:
            response = await client.get("/api/v1/stock")
        body = assert_problem(response, 503, "database-unavailable")
        assert response.headers["retry-after"] == "5"
        assert body["instance"] == "/api/v1/stock"

    async def test_anything_else_is_500(self) -> None:
        async with AsyncTestClient(failing_app(ValueError("bug"))) as client:
            response = await client.get("/api/v1/stock")
        assert_problem(response, 500, "internal-error")
