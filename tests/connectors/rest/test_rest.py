"""The generic REST template against the REST sandbox: checks, reads in each pagination style, writes
with per-record results, faults, and each auth style the config offers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from connectors.sandboxes import oauth, rest
from connectors.sdk.config import config_problems
from connectors.sdk.context import ConnectorContext
from connectors.sdk.domains import Domain
from connectors.sdk.errors import ConfigError, PermanentError, TransientError
from connectors.sdk.network import NetworkPolicy
from connectors.sdk.template import check_connection
from connectors.templates.rest.template import CONFIG_SCHEMA, RestTemplate
from tests.connectors.recording import RecordingSleep
from tests.connectors.serving import serve

READS = {
    "page": {
        "items": {"path": "/page/items"},
        "prices": {"path": "/page/prices"},
        "inventory": {"path": "/page/stock"},
    },
    "offset": {"items": {"path": "/offset/items"}},
    "cursor": {"items": {"path": "/cursor/items"}},
    "link": {"items": {"path": "/link/items", "records_path": ""}},
}
WRITES = {
    "prices": {"path": "/prices/{sku}", "method": "PUT"},
    "inventory": {"path": "/stock/batch", "mode": "batch", "batch_field": "items", "id_field": "id"},
}


@pytest.fixture
def sleeps() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
async def sandbox() -> AsyncIterator[str]:
    async with serve(rest.create_app()) as url:
        yield url


@pytest.fixture
def connect(sandbox: str, sleeps: RecordingSleep) -> Callable[..., RestTemplate]:
    def make(pagination: str = "page", secrets: dict[str, Any] | None = None, **config: Any) -> RestTemplate:
        context = ConnectorContext(
            config={
                "base_url": sandbox,
                "pagination": pagination,
                "page_size": 3,
                "reads": READS[pagination],
                "writes": WRITES,
                **config,
            },
            secrets={"api_key": "sandbox-key"} if secrets is None else secrets,
            network=NetworkPolicy.permissive(),
            sleep=sleeps,
            max_attempts=3,
        )
        return RestTemplate(context)

    return make


async def inject(sandbox: str, **fault: Any) -> None:
    async with httpx.AsyncClient(base_url=sandbox) as client:
        (await client.post("/_sandbox/faults", json=fault)).raise_for_status()


class TestConfig:
    def test_auth_style_requires_its_secret(self) -> None:
        problems = config_problems(
            CONFIG_SCHEMA, {"base_url": "https://erp.example.com", "auth_style": "basic"}
        )
        assert problems == [("password", "is required"), ("username", "is required")]

    def test_jinja_cannot_hide_in_a_path(self) -> None:
        config = {
            "base_url": "https://x.example",
            "api_key": "k",
            "reads": {"items": {"path": "/{{ secrets }}"}},
        }
        assert [p for p, _ in config_problems(CONFIG_SCHEMA, config)] == ["reads.items.path"]

    def test_missing_key_is_a_config_error(self, connect: Callable[..., RestTemplate]) -> None:
        with pytest.raises(ConfigError) as caught:
            connect(secrets={})
        assert caught.value.problems == [("api_key", "is required")]


class TestConnection:
    async def test_ok(self, connect: Callable[..., RestTemplate]) -> None:
        async with connect() as connector:
            check = await check_connection(connector)
        assert check.ok, check.detail
        assert check.detail == "GET /whoami answered"

    async def test_bad_key_fails_clearly(self, connect: Callable[..., RestTemplate]) -> None:
        async with connect(secrets={"api_key": "nope"}) as connector:
            check = await check_connection(connector)
        assert not check.ok
        assert check.detail.startswith("GET /whoami: credentials rejected (401)")
        assert "missing or invalid credentials (api_key)" in check.detail


@pytest.mark.parametrize("pagination", ["page", "offset", "cursor", "link"])
class TestRead:
    async def test_full_then_incremental(
        self, pagination: str, sandbox: str, connect: Callable[..., RestTemplate]
    ) -> None:
        async with connect(pagination) as connector:
            full = [page async for page in connector.read(Domain.ITEMS)]
            assert [len(page.records) for page in full] == [3, 3, 1]
            cursor = full[-1].cursor
            assert cursor == "2024-05-01T08:00:07Z"
            async with httpx.AsyncClient(base_url=sandbox) as client:
                await client.post("/_sandbox/rest/touch", json={"resource": "items", "sku": "SKU-004"})
            changed = [page async for page in connector.read(Domain.ITEMS, cursor)]
        assert [r["sku"] for page in changed for r in page.records] == ["SKU-004"]
        assert changed[-1].cursor == "2024-05-01T08:01:41Z"


class TestReadOther:
    async def test_stock_across_pages(self, connect: Callable[..., RestTemplate]) -> None:
        async with connect() as connector:
            pages = [page async for page in connector.read(Domain.INVENTORY)]
        assert len(pages) == 5  # 14 rows, 3 per page
        assert sum(len(p.records) for p in pages) == 14

    async def test_unconfigured_domain(self, connect: Callable[..., RestTemplate]) -> None:
        async with connect("offset") as connector:
            with pytest.raises(PermanentError, match=r"reads\.prices"):
                [page async for page in connector.read(Domain.PRICES)]


class TestWrite:
    async def test_prices_per_record(self, connect: Callable[..., RestTemplate]) -> None:
        payloads: list[dict[str, Any]] = [
            {"sku": "SKU-001", "amount": "10.00", "currency": "EUR"},
            {"sku": "SKU-002", "amount": "-1", "currency": "EUR"},
            {"sku": "NO-SUCH", "amount": "1.00", "currency": "EUR"},
            {"sku": "SKU-003", "amount": 4.5, "currency": "EUR"},
        ]
        async with connect() as connector:
            results = await connector.write(Domain.PRICES, payloads)
            prices = {r["sku"]: r["amount"] async for p in connector.read(Domain.PRICES) for r in p.records}
        assert [r.status for r in results] == ["ok", "failed", "failed", "ok"]
        assert "amount must be a finite number" in (results[1].error or "")
        assert "(404)" in (results[2].error or "")
        assert prices["SKU-001"] == "10.00"
        assert prices["SKU-003"] == "4.50"
        assert prices["SKU-002"] == "24.90"

    async def test_stock_in_one_batch(self, sandbox: str, connect: Callable[..., RestTemplate]) -> None:
        payloads: list[dict[str, Any]] = [
            {"sku": "SKU-001", "location": "WH1", "on_hand": 1},
            {"sku": "SKU-002", "location": "", "on_hand": 2},
            {"sku": "SKU-003", "location": "WH1", "on_hand": 3},
        ]
        async with connect() as connector:
            results = await connector.write(Domain.INVENTORY, payloads)
        assert [(r.index, r.status, r.key) for r in results] == [
            (0, "ok", "SKU-001"),
            (1, "failed", "SKU-002"),
            (2, "ok", "SKU-003"),
        ]
        assert results[1].error == "location is required"
        async with httpx.AsyncClient(base_url=sandbox) as client:
            calls = (await client.get("/_sandbox/requests")).json()
        assert [c["path"] for c in calls] == ["/stock/batch"]


class TestFaults:
    async def test_429_retry_after_is_honoured(
        self, sandbox: str, sleeps: RecordingSleep, connect: Callable[..., RestTemplate]
    ) -> None:
        await inject(sandbox, status=429, count=2, retry_after=3)
        async with connect() as connector:
            pages = [page async for page in connector.read(Domain.ITEMS)]
        assert sum(len(p.records) for p in pages) == 7
        assert sleeps.calls == [3.0, 3.0]

    async def test_5xx_burst_is_retried(
        self, sandbox: str, sleeps: RecordingSleep, connect: Callable[..., RestTemplate]
    ) -> None:
        await inject(sandbox, status=502, count=2)
        async with connect() as connector:
            results = await connector.write(
                Domain.INVENTORY, [{"sku": "SKU-001", "location": "WH1", "on_hand": 1}]
            )
        assert [r.status for r in results] == ["ok"]
        assert len(sleeps.calls) == 2

    async def test_persistent_5xx_raises_transient(
        self, sandbox: str, connect: Callable[..., RestTemplate]
    ) -> None:
        await inject(sandbox, status=500, count=3)
        async with connect() as connector:
            with pytest.raises(TransientError, match="server error 500"):
                [page async for page in connector.read(Domain.ITEMS)]


class TestAuthStyles:
    @pytest.mark.parametrize(
        ("scheme", "config", "secrets"),
        [
            ("basic", {"auth_style": "basic", "username": "sandbox"}, {"password": "sandbox-password"}),
            ("bearer", {"auth_style": "bearer"}, {"token": "sandbox-token"}),
            ("none", {"auth_style": "none"}, {}),
        ],
    )
    async def test_static_credentials(
        self, scheme: str, config: dict[str, Any], secrets: dict[str, Any], sleeps: RecordingSleep
    ) -> None:
        async with serve(rest.create_app(auth=scheme)) as url:
            context = ConnectorContext(
                config={"base_url": url, "reads": READS["page"], "page_size": 3, **config},
                secrets=secrets,
                network=NetworkPolicy.permissive(),
                sleep=sleeps,
            )
            async with RestTemplate(context) as connector:
                check = await check_connection(connector)
                pages = [p async for p in connector.read(Domain.PRICES)]
        assert check.ok, check.detail
        assert sum(len(p.records) for p in pages) == 7

    async def test_oauth2_client_credentials(self, sleeps: RecordingSleep) -> None:
        async with serve(oauth.create_app()) as provider, serve(rest.create_app(auth="oauth2")) as api:
            context = ConnectorContext(
                config={
                    "base_url": api,
                    "auth_style": "oauth2_client_credentials",
                    "token_url": f"{provider}/oauth/token",
                    "client_id": "shelfsync",
                    "reads": READS["page"],
                },
                secrets={"client_secret": "sandbox-client-secret"},
                network=NetworkPolicy.permissive(),
                sleep=sleeps,
            )
            async with RestTemplate(context) as connector:
                check = await check_connection(connector)
                pages = [p async for p in connector.read(Domain.ITEMS)]
            async with httpx.AsyncClient(base_url=provider) as client:
                stats = (await client.get("/_sandbox/oauth/stats")).json()
        assert check.ok, check.detail
        assert sum(len(p.records) for p in pages) == 7
        assert stats == {"token_requests": 1, "grants": {"client_credentials": 1}}

    async def test_oauth2_token_url_passes_the_network_policy(self, sandbox: str) -> None:
        context = ConnectorContext(
            config={
                "base_url": "https://api.example.com",
                "auth_style": "oauth2_client_credentials",
                "token_url": "http://169.254.169.254/latest/meta-data/",
                "client_id": "shelfsync",
            },
            secrets={"client_secret": "s"},
        )
        async with RestTemplate(context) as connector:
            check = await check_connection(connector)
        assert not check.ok
        assert "private or local address" in check.detail
