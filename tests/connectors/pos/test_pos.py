"""The POS template against the Square-style sandbox: auth, paged reads, isolated writes, idempotency,
rate limits and server errors."""

from __future__ import annotations

import httpx
import pytest

from connectors.sdk.domains import Domain
from connectors.sdk.errors import TransientError
from connectors.sdk.results import ReadPage
from connectors.sdk.template import check_connection
from connectors.templates.pos.template import PosTemplate
from tests.connectors.pos.conftest import TOKEN, SandboxFactory, seed_items


async def read_all(template: PosTemplate, domain: Domain, cursor: str | None = None) -> list[ReadPage]:
    return [page async for page in template.read(domain, cursor)]


class TestConnection:
    async def test_ok(self, pos: SandboxFactory) -> None:
        async with pos() as sandbox, sandbox.template() as template:
            check = await check_connection(template)
        assert check.ok, check.detail
        assert "2 location(s)" in check.detail

    async def test_bad_token(self, pos: SandboxFactory) -> None:
        async with pos() as sandbox, sandbox.template(access_token="wrong") as template:
            check = await check_connection(template)
        assert not check.ok
        assert "credentials rejected (401)" in check.detail
        assert "UNAUTHORIZED" in check.detail

    async def test_unknown_location(self, pos: SandboxFactory) -> None:
        async with pos() as sandbox, sandbox.template(location_id="L-GONE") as template:
            check = await check_connection(template)
        assert not check.ok
        assert "L-GONE not found" in check.detail

    async def test_refusal_in_square_shape(self, pos: SandboxFactory) -> None:
        async with pos() as sandbox, httpx.AsyncClient(base_url=sandbox.url) as client:
            response = await client.get("/v2/locations", headers={"Authorization": "Bearer nope"})
        assert response.status_code == 401
        assert response.json()["errors"][0] == {
            "category": "AUTHENTICATION_ERROR",
            "code": "UNAUTHORIZED",
            "detail": "This request could not be authorized.",
        }


class TestReadItems:
    async def test_full_then_incremental_across_pages(self, pos: SandboxFactory) -> None:
        async with pos(page_size=2) as sandbox, sandbox.template() as template:
            await sandbox.control("POST", "/_sandbox/pos/seed", {"items": seed_items(5)})
            pages = await read_all(template, Domain.ITEMS)
            assert len(pages) == 3
            records = [r for p in pages for r in p.records]
            assert [r["sku"] for r in records] == [f"SKU-{n}" for n in range(1, 6)]
            assert records[0]["price_money"] == {"amount": 500, "currency": "USD"}
            assert records[0]["item_name"] == "Item 1"
            assert pages[0].cursor is None
            assert pages[1].cursor is None
            cursor = pages[-1].cursor
            assert cursor is not None

            changed = await template.write(
                Domain.PRICES, [{"sku": "SKU-2", "price_money": {"amount": 750, "currency": "USD"}}]
            )
            assert changed[0].status == "ok"
            pages = await read_all(template, Domain.ITEMS, cursor)
        records = [r for p in pages for r in p.records]
        assert [r["sku"] for r in records] == ["SKU-2"]
        assert records[0]["price_money"]["amount"] == 750
        assert pages[-1].cursor is not None
        assert pages[-1].cursor > cursor


class TestReadInventory:
    async def test_full_then_incremental_with_skus(self, pos: SandboxFactory) -> None:
        counts = [{"sku": f"SKU-{n}", "location_id": "L-MAIN", "quantity": n * 10} for n in range(1, 4)]
        counts.append({"sku": "SKU-1", "location_id": "L-WEB", "quantity": 99})
        async with pos(page_size=2) as sandbox, sandbox.template() as template:
            await sandbox.control("POST", "/_sandbox/pos/seed", {"items": seed_items(3), "counts": counts})
            pages = await read_all(template, Domain.INVENTORY)
            assert len(pages) == 2
            records = [r for p in pages for r in p.records]
            # Limited to the configured location.
            assert [(r["sku"], r["location_id"], r["quantity"]) for r in records] == [
                ("SKU-1", "L-MAIN", "10"),
                ("SKU-2", "L-MAIN", "20"),
                ("SKU-3", "L-MAIN", "30"),
            ]
            cursor = pages[-1].cursor
            assert cursor == records[-1]["calculated_at"]
            await template.write(Domain.INVENTORY, [{"sku": "SKU-1", "quantity": 4}])
            pages = await read_all(template, Domain.INVENTORY, cursor)
        assert [(r["sku"], r["quantity"]) for p in pages for r in p.records] == [("SKU-1", "4")]


class TestReadLocations:
    async def test_lists_locations(self, pos: SandboxFactory) -> None:
        async with pos() as sandbox, sandbox.template() as template:
            pages = await read_all(template, Domain.LOCATIONS)
        assert [loc["id"] for loc in pages[0].records] == ["L-MAIN", "L-WEB"]
        assert pages[0].records[0]["currency"] == "USD"


class TestWriteItems:
    async def test_new_and_existing_items_with_a_bad_one(self, pos: SandboxFactory) -> None:
        async with pos() as sandbox, sandbox.template() as template:
            await sandbox.control("POST", "/_sandbox/pos/seed", {"items": seed_items(1)})
            results = await template.write(
                Domain.ITEMS,
                [
                    {"sku": "SKU-1", "title": "Renamed one"},
                    {"sku": "SKU-9", "title": ""},
                    {
                        "sku": "NEW-1",
                        "title": "Brand new",
                        "price_money": {"amount": 1299, "currency": "USD"},
                    },
                ],
            )
            state = await sandbox.state()
            variations = await sandbox.variations()
        assert [r.status for r in results] == ["ok", "failed", "ok"]
        assert results[1].error == "title: is required"
        assert results[2].destination_id is not None
        assert not results[2].destination_id.startswith("#")
        names = sorted(item["item_data"]["name"] for item in state["items"])
        assert names == ["Brand new", "Renamed one"]
        # The existing price survives an item update that carries none.
        assert variations["SKU-1"]["price_money"] == {"amount": 500, "currency": "USD"}
        assert variations["NEW-1"]["price_money"] == {"amount": 1299, "currency": "USD"}


class TestWritePrices:
    async def test_rejected_batch_is_bisected(self, pos: SandboxFactory) -> None:
        async with pos() as sandbox, sandbox.template() as template:
            await sandbox.control("POST", "/_sandbox/pos/seed", {"items": seed_items(4)})
            results = await template.write(
                Domain.PRICES,
                [
                    {"sku": "SKU-1", "price_money": {"amount": 100, "currency": "USD"}},
                    {"sku": "SKU-2", "price_money": {"amount": "1.99", "currency": "USD"}},
                    {"sku": "SKU-3", "price_money": {"amount": 300, "currency": "GBP"}},
                    {"sku": "SKU-404", "price_money": {"amount": 1, "currency": "USD"}},
                    {"sku": "SKU-4", "price_money": {"amount": 400, "currency": "USD"}},
                ],
            )
            variations = await sandbox.variations()
        assert [r.status for r in results] == ["ok", "failed", "failed", "failed", "ok"]
        assert results[1].error is not None
        assert "minor units" in results[1].error
        # Valid locally, refused by Square: the whole batch was refused, bisection isolated this one.
        assert results[2].error is not None
        assert "INVALID_VALUE" in results[2].error
        assert "merchant's currency" in results[2].error
        assert results[3].error == "no catalog item variation has SKU SKU-404"
        assert variations["SKU-1"]["price_money"]["amount"] == 100
        assert variations["SKU-3"]["price_money"]["amount"] == 500
        assert variations["SKU-4"]["price_money"]["amount"] == 400


class TestWriteInventory:
    async def test_counts_with_bad_ones(self, pos: SandboxFactory) -> None:
        async with pos() as sandbox, sandbox.template() as template:
            await sandbox.control("POST", "/_sandbox/pos/seed", {"items": seed_items(3)})
            results = await template.write(
                Domain.INVENTORY,
                [
                    {"sku": "SKU-1", "quantity": 5},
                    {"sku": "SKU-2", "quantity": -3},
                    {"sku": "SKU-3", "quantity": 7, "location_id": "L-NOWHERE"},
                    {"sku": "SKU-3", "quantity": 8, "location_id": "L-WEB"},
                ],
            )
            counts = {(c["location_id"], c["quantity"]) for c in (await sandbox.state())["counts"]}
        assert [r.status for r in results] == ["ok", "failed", "failed", "ok"]
        assert results[2].error is not None
        assert "L-NOWHERE" in results[2].error
        assert counts == {("L-MAIN", "5"), ("L-WEB", "8")}


class TestIdempotency:
    async def test_lost_response_is_retried_without_duplicates(self, pos: SandboxFactory) -> None:
        batch = [{"sku": f"NEW-{n}", "title": f"New {n}"} for n in range(3)]
        async with pos() as sandbox, sandbox.template() as template:
            await sandbox.control("POST", "/_sandbox/pos/lose-responses", {"count": 1})
            results = await template.write(Domain.ITEMS, batch)
            state = await sandbox.state()
        assert [r.status for r in results] == ["ok", "ok", "ok"]
        # Applied once, answered 500, retried with the same key: the stored answer, not three more items.
        assert len(state["items"]) == 3
        assert len(sandbox.clock.sleeps) == 1

    async def test_same_batch_twice_does_not_double_apply(self, pos: SandboxFactory) -> None:
        batch = [{"sku": f"NEW-{n}", "title": f"New {n}"} for n in range(2)]
        async with pos() as sandbox, sandbox.template(correlation_id="job-1") as template:
            first = await template.write(Domain.ITEMS, batch)
            second = await template.write(Domain.ITEMS, batch)
            state = await sandbox.state()
        assert len(state["items"]) == 2
        assert [r.destination_id for r in first] == [r.destination_id for r in second]

    async def test_sandbox_honours_keys(self, pos: SandboxFactory) -> None:
        async with pos() as sandbox, sandbox.template() as template:
            await sandbox.control("POST", "/_sandbox/pos/seed", {"items": seed_items(1)})
            variation = next(iter((await sandbox.variations()).values()))
            assert variation["sku"] == "SKU-1"
            await template.write(Domain.INVENTORY, [{"sku": "SKU-1", "quantity": 1}])
            async with httpx.AsyncClient(
                base_url=sandbox.url, headers={"Authorization": f"Bearer {TOKEN}"}
            ) as client:
                state = await sandbox.state()
                change = {
                    "type": "PHYSICAL_COUNT",
                    "physical_count": {
                        "catalog_object_id": state["counts"][0]["catalog_object_id"],
                        "location_id": "L-MAIN",
                        "quantity": "2",
                        "state": "IN_STOCK",
                        "occurred_at": "2024-05-01T00:00:00Z",
                    },
                }
                body = {"idempotency_key": "k-1", "changes": [change]}
                first = await client.post("/v2/inventory/changes/batch-create", json=body)
                again = await client.post("/v2/inventory/changes/batch-create", json=body)
                change["physical_count"]["quantity"] = "3"  # type: ignore[index]
                reused = await client.post("/v2/inventory/changes/batch-create", json=body)
            changes = (await sandbox.state())["changes"]
        assert first.json() == again.json()
        assert changes == 2
        assert reused.status_code == 400
        assert reused.json()["errors"][0]["code"] == "IDEMPOTENCY_KEY_REUSED"


class TestRateLimits:
    async def test_sandbox_limit_is_waited_out(self, pos: SandboxFactory) -> None:
        async with pos(page_size=2, rate=(1.0, 1)) as sandbox, sandbox.template() as template:
            await sandbox.control("POST", "/_sandbox/pos/seed", {"items": seed_items(5)})
            pages = await read_all(template, Domain.ITEMS)
        assert sum(len(p.records) for p in pages) == 5
        assert sandbox.clock.sleeps == [1.0, 1.0]

    async def test_injected_429_is_honoured(self, pos: SandboxFactory) -> None:
        async with pos() as sandbox, sandbox.template() as template:
            await sandbox.fault(status=429, count=1, retry_after=3)
            check = await check_connection(template)
        assert check.ok, check.detail
        assert sandbox.clock.sleeps == [3.0]

    async def test_429_shape(self, pos: SandboxFactory) -> None:
        async with (
            pos(rate=(0.5, 1)) as sandbox,
            httpx.AsyncClient(base_url=sandbox.url, headers={"Authorization": f"Bearer {TOKEN}"}) as client,
        ):
            await client.get("/v2/locations")
            limited = await client.get("/v2/locations")
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "2"
        assert limited.json()["errors"][0]["category"] == "RATE_LIMIT_ERROR"


class TestServerErrors:
    async def test_burst_of_503_is_retried(self, pos: SandboxFactory) -> None:
        async with pos() as sandbox, sandbox.template(max_attempts=4) as template:
            await sandbox.control("POST", "/_sandbox/pos/seed", {"items": seed_items(1)})
            await sandbox.fault(status=503, count=3)
            results = await template.write(Domain.INVENTORY, [{"sku": "SKU-1", "quantity": 2}])
        assert results[0].status == "ok"
        assert len(sandbox.clock.sleeps) == 3

    async def test_persistent_503_raises_transient_error(self, pos: SandboxFactory) -> None:
        async with pos() as sandbox, sandbox.template(max_attempts=3) as template:
            await sandbox.fault(status=503, count=10)
            with pytest.raises(TransientError, match="503"):
                await template.write(Domain.INVENTORY, [{"sku": "SKU-1", "quantity": 2}])
