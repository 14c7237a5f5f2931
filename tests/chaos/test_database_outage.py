"""PostgreSQL unreachable behind a TCP fault proxy: the API answers 503 problem+json within seconds,
never a 500 and never a hang, and serves again as soon as the link is back, without a restart."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from app.clock import FrozenClock
from app.factory import create_app
from app.settings import Settings
from tests.app.api.calls import assert_problem, bearer
from tests.chaos.tcp_proxy import TcpFaultProxy, proxied

MAX_SECONDS = 5.0
"""The longest any request may take while PostgreSQL is away."""


@pytest.fixture
def pg_link(settings: Settings) -> Iterator[TcpFaultProxy]:
    with proxied(settings.database_url or "") as proxy:
        yield proxy


@pytest.fixture
async def proxied_client(
    settings: Settings, clock: FrozenClock, pg_link: TcpFaultProxy
) -> AsyncIterator[AsyncTestClient[Any]]:
    """The app (one instance for the whole test: it is never restarted) reaching PostgreSQL only
    through the proxy."""
    behind = replace(settings, database_url=pg_link.address_of(settings.database_url or ""))
    async with AsyncTestClient(create_app(behind, clock=clock), base_url="https://localhost") as client:
        yield client


async def timed(client: AsyncTestClient[Any], key: str, sku: str) -> list[tuple[httpx.Response, float]]:
    """An event push and a stock read, each with the seconds it took."""
    answers = []
    for call in (
        client.post(
            "/api/v1/events/inventory",
            json={"items": [{"sku": sku, "location": "WH1", "on_hand": 4}]},
            headers=bearer(key),
        ),
        client.get(f"/api/v1/stock?sku={sku}", headers=bearer(key)),
    ):
        started = time.monotonic()
        response = await call
        answers.append((response, time.monotonic() - started))
    return answers


def assert_unavailable(answers: list[tuple[httpx.Response, float]]) -> None:
    for response, seconds in answers:
        assert_problem(response, 503, "database-unavailable")
        assert response.headers["retry-after"]
        assert seconds < MAX_SECONDS, f"{response.request.url.path} took {seconds:.1f} s"


async def assert_serving(client: AsyncTestClient[Any], key: str, sku: str) -> None:
    (pushed, _), (read, _) = await timed(client, key, sku)
    assert pushed.status_code == 202, pushed.text
    assert pushed.json()["accepted"] == 1
    assert read.status_code == 200, read.text
    assert [row["on_hand"] for row in read.json()["items"]] == [4]


class TestDatabaseUnreachable:
    async def test_reset_connections_answer_503_at_once_and_recover(
        self, proxied_client: AsyncTestClient[Any], key: str, pg_link: TcpFaultProxy
    ) -> None:
        """Fault: every connection to PostgreSQL reset, new ones refused (the server is down), after
        the pool holds live connections. Load: an event push and a stock read. End state: both 503
        problem+json in under 5 s; once the link is back the same app stores and reads events."""
        await assert_serving(proxied_client, key, "SKU-001")
        pg_link.cut()
        assert_unavailable(await timed(proxied_client, key, "SKU-002"))
        pg_link.restore()
        await assert_serving(proxied_client, key, "SKU-003")

    async def test_a_silent_partition_answers_503_within_5_s_and_recovers(
        self, proxied_client: AsyncTestClient[Any], key: str, pg_link: TcpFaultProxy
    ) -> None:
        """Fault: the link goes silent — connections stay open, nothing is answered, new ones hang (a
        network partition, where only timeouts help). Load: an event push (on a pooled connection, which
        must be found dead) and a stock read (on a new connection, which must give up). End state: 503
        problem+json each time in under 5 s, no 500; the link back, the same app serves again and
        nothing of the refused push was stored."""
        await assert_serving(proxied_client, key, "SKU-001")
        pg_link.blackhole()
        assert_unavailable(await timed(proxied_client, key, "SKU-002"))
        pg_link.restore()
        await assert_serving(proxied_client, key, "SKU-003")
        read = await proxied_client.get("/api/v1/stock?sku=SKU-002", headers=bearer(key))
        assert read.json()["items"] == []  # the pushes during the partition were refused, not half-stored
