"""The marketplace template against the SP-API sandbox: auth, reads, per-record and feed writes, limits."""

from __future__ import annotations

import httpx
import pytest

from connectors.sdk.domains import Domain
from connectors.sdk.errors import TransientError
from connectors.sdk.results import ReadPage
from connectors.sdk.template import check_connection
from connectors.templates.marketplace.template import MarketplaceTemplate
from tests.connectors.marketplace.conftest import SandboxFactory, listing, order


async def read_all(
    template: MarketplaceTemplate, domain: Domain, cursor: str | None = None
) -> list[ReadPage]:
    return [page async for page in template.read(domain, cursor)]


class TestConnection:
    async def test_ok(self, marketplace: SandboxFactory) -> None:
        async with marketplace() as sandbox, sandbox.template() as template:
            check = await check_connection(template)
        assert check.ok, check.detail
        assert "A1PA6795UKMFR9" in check.detail

    async def test_bad_client_secret(self, marketplace: SandboxFactory) -> None:
        async with marketplace() as sandbox, sandbox.template(client_secret="wrong") as template:
            check = await check_connection(template)
        assert not check.ok
        assert "Login with Amazon refused" in check.detail
        assert "invalid_client" in check.detail
        assert "marketplace-test" in sandbox.store.needs_reauthorisation

    async def test_revoked_refresh_token(self, marketplace: SandboxFactory) -> None:
        async with marketplace() as sandbox, sandbox.template(refresh_token="revoked") as template:
            check = await check_connection(template)
        assert not check.ok
        assert "invalid_grant" in check.detail

    async def test_expired_access_token_is_refreshed(self, marketplace: SandboxFactory) -> None:
        async with marketplace() as sandbox, sandbox.template() as template:
            assert (await check_connection(template)).ok
            first = (await sandbox.store.load("marketplace-test") or {})["access_token"]
            await sandbox.control("POST", "/_sandbox/marketplace/expire-tokens")
            check = await check_connection(template)
            second = (await sandbox.store.load("marketplace-test") or {})["access_token"]
        assert check.ok, check.detail
        assert first != second

    async def test_sandbox_refuses_unknown_token_in_sp_api_shape(self, marketplace: SandboxFactory) -> None:
        async with marketplace() as sandbox, httpx.AsyncClient(base_url=sandbox.url) as client:
            response = await client.get(
                "/sellers/v1/marketplaceParticipations", headers={"x-amz-access-token": "Atza|nope"}
            )
        assert response.status_code == 403
        assert response.json()["errors"][0]["code"] == "Unauthorized"


class TestReadOrders:
    async def test_full_then_incremental_across_pages(self, marketplace: SandboxFactory) -> None:
        seeded = [order(n, f"2024-05-0{n}T12:00:00Z") for n in range(1, 6)]
        async with marketplace() as sandbox, sandbox.template() as template:
            await sandbox.control("POST", "/_sandbox/marketplace/orders", seeded)
            pages = await read_all(template, Domain.ORDERS)
            assert len(pages) == 3
            records = [r for p in pages for r in p.records]
            assert [r["AmazonOrderId"] for r in records] == [o["AmazonOrderId"] for o in seeded]
            assert records[0]["OrderItems"][0]["UnitPrice"] == {"CurrencyCode": "EUR", "Amount": "19.99"}
            # Only the last page moves the cursor, to the newest LastUpdateDate.
            assert [p.cursor for p in pages] == [None, None, "2024-05-05T12:00:00Z"]

            newer = [order(7, "2024-06-01T08:00:00Z"), order(6, "2024-06-02T08:00:00Z")]
            await sandbox.control("POST", "/_sandbox/marketplace/orders", newer)
            pages = await read_all(template, Domain.ORDERS, "2024-05-05T12:00:00Z")
        ids = [r["AmazonOrderId"] for p in pages for r in p.records]
        # LastUpdatedAfter is inclusive: the boundary order comes again; older ones do not.
        assert ids == [seeded[4]["AmazonOrderId"], newer[0]["AmazonOrderId"], newer[1]["AmazonOrderId"]]
        assert pages[-1].cursor == "2024-06-02T08:00:00Z"


class TestReadListings:
    async def test_full_then_incremental(self, marketplace: SandboxFactory) -> None:
        seeded = [listing(f"SKU-{n}", f"2024-05-0{n}T00:00:00Z") for n in range(1, 4)]
        async with marketplace() as sandbox, sandbox.template() as template:
            await sandbox.control("POST", "/_sandbox/marketplace/listings", seeded)
            pages = await read_all(template, Domain.ITEMS)
            assert len(pages) == 2
            assert [r["sku"] for p in pages for r in p.records] == ["SKU-1", "SKU-2", "SKU-3"]
            cursor = pages[-1].cursor
            assert cursor == "2024-05-03T00:00:00Z"

            results = await template.write(Domain.INVENTORY, [{"sku": "SKU-1", "quantity": 9}])
            assert results[0].status == "ok"
            pages = await read_all(template, Domain.ITEMS, cursor)
        skus = [r["sku"] for p in pages for r in p.records]
        assert skus == ["SKU-3", "SKU-1"]
        changed = next(r for p in pages for r in p.records if r["sku"] == "SKU-1")
        assert changed["fulfillmentAvailability"][0]["quantity"] == 9


class TestWrite:
    async def test_each_record_has_its_own_result(self, marketplace: SandboxFactory) -> None:
        async with marketplace() as sandbox, sandbox.template() as template:
            await sandbox.control(
                "POST", "/_sandbox/marketplace/listings", [listing("SKU-1"), listing("SKU-2")]
            )
            results = await template.write(
                Domain.PRICES,
                [
                    {"sku": "SKU-1", "amount": "19.99", "currency": "EUR"},
                    {"sku": "SKU-2", "amount": "not a price", "currency": "EUR"},
                    {"sku": "SKU-404", "amount": "5.00", "currency": "EUR"},
                    {"sku": "SKU-2", "amount": 7, "currency": "EUR"},
                ],
            )
            stored = {r["sku"]: r for r in await sandbox.control("GET", "/_sandbox/marketplace/listings")}
        assert [r.status for r in results] == ["ok", "failed", "failed", "ok"]
        assert [r.index for r in results] == [0, 1, 2, 3]
        assert results[1].error is not None
        assert "amount" in results[1].error
        assert results[2].error is not None
        assert "does not exist" in results[2].error
        assert stored["SKU-1"]["price"] == {"currency": "EUR", "amount": "19.99"}
        assert stored["SKU-2"]["price"] == {"currency": "EUR", "amount": "7.0"}

    async def test_big_batch_goes_through_a_feed(self, marketplace: SandboxFactory) -> None:
        async with marketplace(feed_polls_until_done=3) as sandbox:
            await sandbox.control(
                "POST", "/_sandbox/marketplace/listings", [listing(f"SKU-{n}") for n in range(1, 5)]
            )
            async with sandbox.template(feed_threshold=2) as template:
                results = await template.write(
                    Domain.INVENTORY,
                    [
                        {"sku": "SKU-1", "quantity": 3},
                        {"sku": "SKU-2", "quantity": -1},
                        {"sku": "SKU-404", "quantity": 1},
                        {"sku": "SKU-3", "quantity": 0},
                        {"sku": "SKU-4", "quantity": 12},
                    ],
                )
            stored = {r["sku"]: r for r in await sandbox.control("GET", "/_sandbox/marketplace/listings")}
            seen = await sandbox.control("GET", "/_sandbox/requests")
        assert [r.status for r in results] == ["ok", "failed", "failed", "ok", "ok"]
        assert results[1].error is not None
        assert "negative" in results[1].error
        assert results[2].error is not None
        assert "SKU-404" in results[2].error
        assert results[0].details["feed_id"]
        assert {k: v["quantity"] for k, v in stored.items()} == {
            "SKU-1": 3,
            "SKU-2": 1,
            "SKU-3": 0,
            "SKU-4": 12,
        }
        paths = [entry["path"] for entry in seen]
        assert "/feeds/2021-06-30/feeds" in paths
        assert not any(p.startswith("/listings/") for p in paths)
        # Polled until DONE, sleeping the configured interval between polls.
        assert sandbox.clock.sleeps == [5, 5]


class TestRateLimits:
    async def test_sandbox_quota_answers_429_with_retry_after(self, marketplace: SandboxFactory) -> None:
        async with (
            marketplace(rate_limits={"getOrders": (0.5, 1)}) as sandbox,
            sandbox.template() as template,
        ):
            await sandbox.control("POST", "/_sandbox/marketplace/orders", [order(1, "2024-05-01T00:00:00Z")])
            token = await template._tokens.access_token()
            async with httpx.AsyncClient(base_url=sandbox.url) as client:
                params = {"MarketplaceIds": "A1PA6795UKMFR9", "LastUpdatedAfter": "2024-01-01T00:00:00Z"}
                headers = {"x-amz-access-token": token}
                first = await client.get("/orders/v0/orders", params=params, headers=headers)
                second = await client.get("/orders/v0/orders", params=params, headers=headers)
        assert first.status_code == 200
        assert second.status_code == 429
        assert second.headers["x-amzn-RateLimit-Limit"] == "0.5"
        assert second.headers["Retry-After"] == "2"
        assert second.json()["errors"][0]["code"] == "QuotaExceeded"

    async def test_template_waits_out_the_sandbox_quota(self, marketplace: SandboxFactory) -> None:
        seeded = [order(n, f"2024-05-0{n}T12:00:00Z") for n in range(1, 6)]
        async with (
            marketplace(rate_limits={"getOrders": (1.0, 1)}) as sandbox,
            sandbox.template() as template,
        ):
            await sandbox.control("POST", "/_sandbox/marketplace/orders", seeded)
            pages = await read_all(template, Domain.ORDERS)
        assert sum(len(p.records) for p in pages) == 5
        # Three pages at one request per second, burst one: two waits of Retry-After 1 s.
        assert sandbox.clock.sleeps == [1.0, 1.0]

    async def test_injected_429_is_honoured(self, marketplace: SandboxFactory) -> None:
        async with marketplace() as sandbox, sandbox.template() as template:
            await template._tokens.access_token()
            await sandbox.fault(status=429, count=1, retry_after=7)
            check = await check_connection(template)
        assert check.ok, check.detail
        assert sandbox.clock.sleeps == [7.0]


class TestServerErrors:
    async def test_burst_of_503_is_retried(self, marketplace: SandboxFactory) -> None:
        async with marketplace() as sandbox, sandbox.template(max_attempts=4) as template:
            await sandbox.control("POST", "/_sandbox/marketplace/listings", [listing("SKU-1")])
            await template._tokens.access_token()
            await sandbox.fault(status=503, count=3)
            results = await template.write(Domain.INVENTORY, [{"sku": "SKU-1", "quantity": 4}])
        assert results[0].status == "ok"
        assert len(sandbox.clock.sleeps) == 3

    async def test_persistent_503_raises_transient_error(self, marketplace: SandboxFactory) -> None:
        async with marketplace() as sandbox, sandbox.template(max_attempts=3) as template:
            await template._tokens.access_token()
            await sandbox.fault(status=503, count=10)
            with pytest.raises(TransientError, match="503"):
                await template.write(Domain.INVENTORY, [{"sku": "SKU-1", "quantity": 4}])
