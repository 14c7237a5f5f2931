"""ConnectorHttp against a sandbox: retries that honour Retry-After, error mapping, correlation ids,
one rate-limiter acquisition per attempt, and the SSRF check on URLs outside the base."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from litestar import Response, get

from connectors.sandboxes.faults import sandbox_app
from connectors.sdk.auth import ApiKeyAuth
from connectors.sdk.context import ConnectorContext
from connectors.sdk.errors import (
    AuthError,
    NetworkPolicyError,
    PermanentError,
    RateLimitError,
    TransientError,
)
from connectors.sdk.http import ConnectorHttp
from connectors.sdk.network import NetworkPolicy
from tests.connectors.recording import RecordingSleep
from tests.connectors.serving import serve

FIXED_NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


class CountingLimiter:
    def __init__(self) -> None:
        self.costs: list[float] = []

    async def acquire(self, cost: float = 1.0) -> None:
        self.costs.append(cost)


def client(base_url: str, sleeps: RecordingSleep, key: str = "sandbox-key", **options: Any) -> ConnectorHttp:
    context = ConnectorContext(
        config={}, network=NetworkPolicy.permissive(), sleep=sleeps, max_attempts=3, **options
    )
    return ConnectorHttp(context, base_url=base_url, auth=ApiKeyAuth(key))


async def inject(base_url: str, **fault: Any) -> None:
    async with httpx.AsyncClient(base_url=base_url) as control:
        (await control.post("/_sandbox/faults", json=fault)).raise_for_status()


class TestRateLimited:
    async def test_retry_after_in_seconds(self, api: str, sleeps: RecordingSleep) -> None:
        await inject(api, status=429, count=2, retry_after=4)
        http = client(api, sleeps)
        response = await http.request("GET", "/whoami")
        await http.aclose()
        assert response.status_code == 200
        assert sleeps.calls == [4.0, 4.0]

    async def test_retry_after_as_an_http_date(self, sleeps: RecordingSleep) -> None:
        answered: list[int] = []

        @get("/slow")
        async def slow() -> Response[dict[str, bool]]:
            answered.append(1)
            if len(answered) == 1:
                until = format_datetime(FIXED_NOW + timedelta(seconds=9), usegmt=True)
                return Response({"ok": False}, status_code=429, headers={"Retry-After": until})
            return Response({"ok": True})

        async with serve(sandbox_app([slow])) as url:
            http = client(url, sleeps, now=lambda: FIXED_NOW)
            response = await http.request("GET", "/slow")
            await http.aclose()
        assert response.json() == {"ok": True}
        assert sleeps.calls == [9.0]

    async def test_missing_retry_after_waits_one_second(self, api: str, sleeps: RecordingSleep) -> None:
        await inject(api, status=429, count=1)
        http = client(api, sleeps)
        await http.request("GET", "/whoami")
        await http.aclose()
        assert sleeps.calls == [1.0]

    async def test_exhausted_raises_rate_limit_error(self, api: str, sleeps: RecordingSleep) -> None:
        await inject(api, status=429, count=5, retry_after=2)
        http = client(api, sleeps)
        with pytest.raises(RateLimitError) as caught:
            await http.request("GET", "/whoami")
        await http.aclose()
        assert caught.value.retry_after == 2.0
        assert caught.value.retryable
        assert sleeps.calls == [2.0, 2.0]

    async def test_a_wait_longer_than_max_retry_wait_is_left_to_the_caller(
        self, api: str, sleeps: RecordingSleep
    ) -> None:
        await inject(api, status=429, count=1, retry_after=90)
        http = client(api, sleeps, max_retry_wait=5.0)
        with pytest.raises(RateLimitError) as caught:
            await http.request("GET", "/whoami")
        await http.aclose()
        assert caught.value.retry_after == 90.0
        assert sleeps.calls == []  # not slept through: the caller schedules the retry

    async def test_a_shorter_wait_is_still_slept_through(self, api: str, sleeps: RecordingSleep) -> None:
        await inject(api, status=429, count=1, retry_after=2)
        http = client(api, sleeps, max_retry_wait=5.0)
        response = await http.request("GET", "/whoami")
        await http.aclose()
        assert response.status_code == 200
        assert sleeps.calls == [2.0]


class TestServerErrors:
    async def test_burst_is_retried_with_backoff(self, api: str, sleeps: RecordingSleep) -> None:
        await inject(api, status=503, count=2)
        http = client(api, sleeps)
        response = await http.request("GET", "/whoami")
        await http.aclose()
        assert response.status_code == 200
        assert len(sleeps.calls) == 2
        assert 0 <= sleeps.calls[0] <= 0.2
        assert 0 <= sleeps.calls[1] <= 0.4

    async def test_persistent_5xx_is_transient(self, api: str, sleeps: RecordingSleep) -> None:
        await inject(api, status=500, count=3, body="database on fire")
        http = client(api, sleeps)
        with pytest.raises(TransientError) as caught:
            await http.request("GET", "/whoami")
        await http.aclose()
        assert caught.value.status == 500
        assert "database on fire" in caught.value.message

    async def test_unreachable_host_is_transient(self, sleeps: RecordingSleep) -> None:
        http = client("http://127.0.0.1:9", sleeps)  # the discard port: nothing listens
        with pytest.raises(TransientError, match="failed"):
            await http.request("GET", "/whoami")
        await http.aclose()
        assert len(sleeps.calls) == 2


class TestClientErrors:
    async def test_401_is_auth_error(self, api: str, sleeps: RecordingSleep) -> None:
        http = client(api, sleeps, key="wrong")
        with pytest.raises(AuthError) as caught:
            await http.request("GET", "/whoami")
        await http.aclose()
        assert caught.value.status == 401
        assert not caught.value.retryable
        assert sleeps.calls == []

    async def test_404_is_permanent_with_body_excerpt(self, api: str, sleeps: RecordingSleep) -> None:
        http = client(api, sleeps)
        with pytest.raises(PermanentError) as caught:
            await http.request("GET", "/items/NOPE")
        await http.aclose()
        assert caught.value.status == 404
        assert caught.value.message.startswith("GET /items/NOPE: rejected (404)")
        assert "no item with sku 'NOPE'" in caught.value.message


class TestHeadersAndLimits:
    async def test_correlation_id_is_sent(self, api: str, sleeps: RecordingSleep) -> None:
        http = client(api, sleeps, correlation_id="corr-42")
        body = await http.json("GET", "/whoami")
        await http.aclose()
        assert body["correlation_id"] == "corr-42"
        assert body["user_agent"] == "Shelfsync/1.0"

    async def test_limiter_is_asked_once_per_attempt(self, api: str, sleeps: RecordingSleep) -> None:
        limiter = CountingLimiter()
        await inject(api, status=503, count=2)
        http = client(api, sleeps, rate_limiter=limiter)
        await http.request("GET", "/whoami", cost=2)
        await http.aclose()
        assert limiter.costs == [2, 2, 2]


class TestNetworkPolicy:
    async def test_base_url_is_checked(self, api: str, sleeps: RecordingSleep) -> None:
        context = ConnectorContext(config={}, sleep=sleeps)  # the production policy: no private hosts
        http = ConnectorHttp(context, base_url=api)
        with pytest.raises(NetworkPolicyError, match="private or local address"):
            await http.request("GET", "/whoami")
        await http.aclose()

    async def test_url_that_only_looks_like_the_base_is_checked(
        self, api: str, sleeps: RecordingSleep
    ) -> None:
        port = api.rsplit(":", 1)[1]
        context = ConnectorContext(
            config={},
            network=NetworkPolicy(allowed_hosts=frozenset({"127.0.0.1"})),
            sleep=sleeps,
            max_attempts=1,
        )
        http = ConnectorHttp(context, base_url=api, auth=ApiKeyAuth("sandbox-key"))
        await http.request("GET", "/whoami")  # the base is allowed
        with pytest.raises(NetworkPolicyError):
            # Host is ``localhost`` (not allow-listed, loopback): the policy must refuse it.
            await http.request("GET", f"{api}@localhost:{port}/whoami")
        await http.aclose()
