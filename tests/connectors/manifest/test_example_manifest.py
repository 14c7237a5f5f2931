"""The example manifest as a template: its class attributes, connection check, writes with per-record
results, and the SDK's retry behaviour underneath."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from connectors.manifest import manifest_template
from connectors.sdk.context import ConnectorContext
from connectors.sdk.domains import Domain, Kind
from connectors.sdk.errors import TransientError
from connectors.sdk.template import ConnectorTemplate, check_connection
from tests.connectors.manifest.conftest import EXAMPLE_MANIFEST
from tests.connectors.recording import RecordingSleep


@pytest.fixture
def example() -> type[ConnectorTemplate]:
    return manifest_template(EXAMPLE_MANIFEST.read_text())


class TestClassAttributes:
    def test_from_the_manifest(self, example: type[ConnectorTemplate]) -> None:
        assert example.key == "example-erp"
        assert example.kind is Kind.ERP
        assert example.reads == {Domain.ITEMS, Domain.PRICES, Domain.INVENTORY}
        assert example.writes == {Domain.PRICES, Domain.INVENTORY}
        assert example.auth == ("api_key",)
        assert (example.rate_limit.rate, example.rate_limit.burst, example.batch_size) == (5, 10, 50)
        assert example.describe()["config_schema"]["properties"]["api_key"]["writeOnly"] is True


class TestConnection:
    async def test_ok(
        self, example: type[ConnectorTemplate], make_context: Callable[..., ConnectorContext]
    ) -> None:
        async with example(make_context()) as connector:
            check = await check_connection(connector)
        assert check.ok, check.detail

    async def test_bad_key(
        self, example: type[ConnectorTemplate], make_context: Callable[..., ConnectorContext]
    ) -> None:
        async with example(make_context(secrets={"api_key": "wrong"})) as connector:
            check = await check_connection(connector)
        assert not check.ok
        assert "credentials rejected (401)" in check.detail


class TestWrite:
    async def test_prices_one_call_each_and_a_bad_one_fails_alone(
        self, example: type[ConnectorTemplate], make_context: Callable[..., ConnectorContext]
    ) -> None:
        payloads: list[dict[str, Any]] = [
            {"sku": "SKU-001", "amount": "99.00", "currency": "EUR"},
            {"sku": "SKU-002", "amount": "12.50", "currency": "euro"},
            {"sku": "SKU-003", "amount": "8.00", "currency": "EUR", "price_list": "outlet"},
        ]
        async with example(make_context()) as connector:
            results = await connector.write(Domain.PRICES, payloads)
            pages = [p async for p in connector.read(Domain.PRICES)]
        assert [r.status for r in results] == ["ok", "failed", "ok"]
        assert results[0].destination_id == "SKU-001:retail"
        assert results[2].destination_id == "SKU-003:outlet"
        assert results[1].key == "SKU-002"
        assert "not an ISO-4217 code" in (results[1].error or "")
        amounts = {(r["sku"], r["price_list"]): r["amount"] for p in pages for r in p.records}
        assert amounts[("SKU-001", "retail")] == "99.00"
        assert amounts[("SKU-002", "retail")] == "24.90"

    async def test_stock_batch_results_per_item(
        self, example: type[ConnectorTemplate], make_context: Callable[..., ConnectorContext]
    ) -> None:
        payloads: list[dict[str, Any]] = [
            {"sku": "SKU-001", "location": "WH1", "on_hand": 4},
            {"sku": "SKU-404", "location": "WH1", "on_hand": 4},
            {"sku": "SKU-002", "location": "WH1", "on_hand": "seven"},
            {"sku": "SKU-003", "location": "WH1", "on_hand": 0},
        ]
        async with example(make_context()) as connector:
            results = await connector.write(Domain.INVENTORY, payloads)
        assert [r.status for r in results] == ["ok", "failed", "failed", "ok"]
        assert [r.index for r in results] == [0, 1, 2, 3]
        assert results[1].error == "unknown sku 'SKU-404'"
        assert results[3].destination_id == "SKU-003:WH1"


class TestRetries:
    async def test_429_then_success_honours_retry_after(
        self,
        example: type[ConnectorTemplate],
        sandbox: str,
        sleeps: RecordingSleep,
        make_context: Callable[..., ConnectorContext],
    ) -> None:
        async with httpx.AsyncClient(base_url=sandbox) as client:
            await client.post("/_sandbox/faults", json={"status": 429, "count": 1, "retry_after": 7})
        async with example(make_context()) as connector:
            pages = [p async for p in connector.read(Domain.ITEMS)]
        assert sum(len(p.records) for p in pages) == 7
        assert sleeps.calls == [7.0]

    async def test_persistent_5xx(
        self,
        example: type[ConnectorTemplate],
        sandbox: str,
        sleeps: RecordingSleep,
        make_context: Callable[..., ConnectorContext],
    ) -> None:
        async with httpx.AsyncClient(base_url=sandbox) as client:
            await client.post("/_sandbox/faults", json={"status": 503, "count": 10})
        async with example(make_context()) as connector:
            with pytest.raises(TransientError, match="server error 503"):
                await connector.write(
                    Domain.PRICES, [{"sku": "SKU-001", "amount": "1.00", "currency": "EUR"}]
                )
        assert len(sleeps.calls) == 2  # three attempts
