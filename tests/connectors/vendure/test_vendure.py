"""The Vendure template against a real Vendure: connection, paged and incremental reads, writes read
back through the Admin API, promotions, and retries behind a fault proxy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from connectors.sandboxes.fault_proxy import create_app
from connectors.sdk.domains import Domain
from connectors.sdk.errors import TransientError
from connectors.sdk.results import ReadPage
from connectors.sdk.template import check_connection
from connectors.templates.vendure.template import VendureTemplate
from tests.connectors.recording import RecordingSleep
from tests.connectors.serving import serve
from tests.connectors.vendure.conftest import CURRENCY, SKUS, SeededVendure, TemplateFactory


async def read_all(template: VendureTemplate, domain: Domain, cursor: str | None = None) -> list[ReadPage]:
    return [page async for page in template.read(domain, cursor)]


def records_of(pages: list[ReadPage]) -> list[dict[str, Any]]:
    return [record for page in pages for record in page.records]


class TestConnection:
    async def test_ok(self, make_template: TemplateFactory) -> None:
        check = await check_connection(make_template())
        assert check.ok, check.detail
        assert "superadmin" in check.detail
        assert CURRENCY in check.detail

    async def test_wrong_password(self, make_template: TemplateFactory) -> None:
        check = await check_connection(make_template(password="not-the-password"))
        assert not check.ok
        assert "Vendure rejected the username or password" in check.detail


class TestRead:
    async def test_full_read_pages_through_ties(
        self, vendure: SeededVendure, make_template: TemplateFactory
    ) -> None:
        # The twelve seeded variants share one updatedAt; pages of five must neither repeat nor drop any.
        pages = await read_all(make_template(page_size=5), Domain.ITEMS)
        skus = [record["sku"] for record in records_of(pages)]
        assert len(pages) >= 3
        assert sorted(skus) == sorted(set(skus))
        assert set(SKUS) <= set(skus)
        assert all(page.cursor for page in pages)

    async def test_incremental_returns_only_changes(self, make_template: TemplateFactory) -> None:
        template = make_template(page_size=5)
        cursor = (await read_all(template, Domain.PRICES))[-1].cursor
        assert records_of(await read_all(template, Domain.PRICES, cursor)) == []

        results = await template.write(
            Domain.PRICES, [{"sku": SKUS[3], "price": 1777, "currencyCode": CURRENCY}]
        )
        assert [r.status for r in results] == ["ok"]
        changed = await read_all(template, Domain.PRICES, cursor)
        assert [(r["sku"], r["price"], r["currencyCode"]) for r in records_of(changed)] == [
            (SKUS[3], 1777, CURRENCY)
        ]
        # The cursor after the change moves past it.
        assert records_of(await read_all(template, Domain.PRICES, changed[-1].cursor)) == []

    async def test_resume_from_any_page_cursor(self, make_template: TemplateFactory) -> None:
        template = make_template(page_size=5)
        pages = await read_all(template, Domain.ITEMS)
        everything = [r["sku"] for r in records_of(pages)]
        for i, page in enumerate(pages[:-1]):
            rest = [r["sku"] for r in records_of(await read_all(template, Domain.ITEMS, page.cursor))]
            assert rest == [r["sku"] for r in records_of(pages[i + 1 :])], f"after page {i}"
        assert len(everything) == len(set(everything))

    async def test_inventory_per_location(self, make_template: TemplateFactory) -> None:
        records = records_of(await read_all(make_template(page_size=50), Domain.INVENTORY))
        by_sku = {r["sku"]: r for r in records}
        assert by_sku[SKUS[0]]["stockLocation"] == "Default Stock Location"
        assert isinstance(by_sku[SKUS[0]]["stockOnHand"], int)

    async def test_orders_full_and_incremental(
        self, vendure: SeededVendure, make_template: TemplateFactory
    ) -> None:
        template = make_template(page_size=2)
        first = await vendure.place_order(SKUS[0], 2)
        pages = await read_all(template, Domain.ORDERS)
        orders = {o["code"]: o for o in records_of(pages)}
        assert first in orders
        line = orders[first]["lines"][0]
        assert (line["sku"], line["quantity"], line["currencyCode"]) == (SKUS[0], 2, CURRENCY)
        assert orders[first]["state"] == "PaymentSettled"

        second = await vendure.place_order(SKUS[1])
        changed = records_of(await read_all(template, Domain.ORDERS, pages[-1].cursor))
        assert [o["code"] for o in changed] == [second]


class TestWrite:
    async def test_price_change_read_back(
        self, vendure: SeededVendure, make_template: TemplateFactory
    ) -> None:
        results = await make_template().write(
            Domain.PRICES, [{"sku": SKUS[4], "price": 2599, "currencyCode": CURRENCY}]
        )
        assert [(r.status, r.key, r.destination_id) for r in results] == [
            ("ok", SKUS[4], vendure.variant_ids[SKUS[4]])
        ]
        variant = await vendure.admin.variant(SKUS[4])
        assert (variant["price"], variant["currencyCode"]) == (2599, CURRENCY)

    async def test_stock_change_read_back(
        self, vendure: SeededVendure, make_template: TemplateFactory
    ) -> None:
        results = await make_template().write(Domain.INVENTORY, [{"sku": SKUS[5], "stockOnHand": 42}])
        assert [r.status for r in results] == ["ok"]
        assert (await vendure.admin.variant(SKUS[5]))["stockOnHand"] == 42

    async def test_malformed_records_fail_alone(
        self, vendure: SeededVendure, make_template: TemplateFactory
    ) -> None:
        batch: list[dict[str, Any]] = [
            {"sku": SKUS[6], "price": 1111},
            {"sku": "NO-SUCH-SKU", "price": 999},
            {"sku": SKUS[7], "price": -5},
            {"price": 100},
            {"sku": SKUS[8], "price": 3333},
        ]
        results = await make_template().write(Domain.PRICES, batch)
        assert [r.status for r in results] == ["ok", "failed", "failed", "failed", "ok"]
        assert "NO-SUCH-SKU" in (results[1].error or "")
        assert "price must be at least 0" in (results[2].error or "")
        assert "missing sku" in (results[3].error or "")
        assert (await vendure.admin.variant(SKUS[6]))["price"] == 1111
        assert (await vendure.admin.variant(SKUS[8]))["price"] == 3333
        assert (await vendure.admin.variant(SKUS[7]))["price"] >= 0

    async def test_a_record_vendure_rejects_fails_alone(
        self, vendure: SeededVendure, make_template: TemplateFactory
    ) -> None:
        # Well-formed for us, refused by Vendure (no such currency): the bulk call fails, so the
        # records are sent one by one and only the culprit fails.
        batch = [{"sku": SKUS[9], "price": 1999}, {"sku": SKUS[10], "price": 2999, "currencyCode": "XYZ"}]
        results = await make_template().write(Domain.PRICES, batch)
        assert [r.status for r in results] == ["ok", "failed"]
        assert "Vendure rejected updateProductVariants" in (results[1].error or "")
        assert (await vendure.admin.variant(SKUS[9]))["price"] == 1999
        assert (await vendure.admin.variant(SKUS[10]))["price"] != 2999

    async def test_stock_at_a_named_location(
        self, vendure: SeededVendure, make_template: TemplateFactory
    ) -> None:
        batch = [
            {"sku": SKUS[10], "stockOnHand": 8, "stockLocation": "Default Stock Location"},
            {"sku": SKUS[10], "stockOnHand": 9, "stockLocationId": "999"},
        ]
        results = await make_template().write(Domain.INVENTORY, batch)
        assert [r.status for r in results] == ["ok", "failed"]
        assert "no Vendure stock location" in (results[1].error or "")
        assert (await vendure.admin.variant(SKUS[10]))["stockOnHand"] == 8


PROMOTION = """query($id: ID!) { promotion(id: $id) {
  id name enabled couponCode actions { code args { name value } } } }"""


class TestPromotions:
    async def test_create_then_deactivate(
        self, vendure: SeededVendure, make_template: TemplateFactory
    ) -> None:
        template = make_template()
        created = await template.write(
            Domain.PROMOTIONS,
            [
                {
                    "code": "SPRING10",
                    "name": "Spring 10%",
                    "percent": 10,
                    "couponCode": "SPRING10",
                    "skus": [SKUS[0]],
                }
            ],
        )
        assert created[0].status == "ok", created[0].error
        promotion = (await vendure.admin.query(PROMOTION, id=created[0].destination_id))["promotion"]
        assert (promotion["name"], promotion["enabled"], promotion["couponCode"]) == (
            "Spring 10%",
            True,
            "SPRING10",
        )
        action = promotion["actions"][0]
        assert action["code"] == "products_percentage_discount"
        assert {a["name"]: a["value"] for a in action["args"]}["discount"] == "10"

        deactivated = await template.write(Domain.PROMOTIONS, [{"code": "SPRING10", "enabled": False}])
        assert [(r.status, r.destination_id) for r in deactivated] == [("ok", created[0].destination_id)]
        promotion = (await vendure.admin.query(PROMOTION, id=created[0].destination_id))["promotion"]
        assert promotion["enabled"] is False

    async def test_bad_promotions_fail_alone(self, make_template: TemplateFactory) -> None:
        results = await make_template().write(
            Domain.PROMOTIONS,
            [
                {"code": "NEW-NO-RULE", "name": "Missing percent"},
                {"code": "WHOLE-ORDER", "name": "Five off everything", "percent": 5},
                {"code": "BAD-SKU", "name": "Unknown item", "percent": 5, "skus": ["NO-SUCH-SKU"]},
            ],
        )
        assert [r.status for r in results] == ["failed", "ok", "failed"]
        assert "percent" in (results[0].error or "")
        assert "NO-SUCH-SKU" in (results[2].error or "")


@pytest.fixture
async def proxy(vendure: SeededVendure) -> AsyncIterator[str]:
    async with serve(create_app(upstream=vendure.peer.base_url)) as url:
        yield url


async def fault(proxy: str, **spec: Any) -> None:
    async with httpx.AsyncClient() as client:
        (await client.post(f"{proxy}/_sandbox/faults", json=spec)).raise_for_status()


async def statuses(proxy: str) -> list[int | None]:
    async with httpx.AsyncClient() as client:
        return [entry["status"] for entry in (await client.get(f"{proxy}/_sandbox/requests")).json()]


class TestFaults:
    async def test_429_retry_after_is_honoured(self, proxy: str, make_template: TemplateFactory) -> None:
        sleep = RecordingSleep()
        template = make_template(base_url=proxy, sleep=sleep)
        await fault(proxy, status=429, count=1, retry_after=2)
        pages = await read_all(template, Domain.ITEMS)
        assert set(SKUS) <= {r["sku"] for r in records_of(pages)}
        assert sleep.calls[0] == 2.0
        assert (await statuses(proxy))[:2] == [429, None]

    async def test_5xx_burst_is_retried(
        self, vendure: SeededVendure, proxy: str, make_template: TemplateFactory
    ) -> None:
        sleep = RecordingSleep()
        template = make_template(base_url=proxy, sleep=sleep, max_attempts=4)
        await fault(proxy, status=503, count=3)
        results = await template.write(Domain.INVENTORY, [{"sku": SKUS[11], "stockOnHand": 13}])
        assert [r.status for r in results] == ["ok"]
        assert (await statuses(proxy))[:4] == [503, 503, 503, None]
        assert len(sleep.calls) == 3
        assert (await vendure.admin.variant(SKUS[11]))["stockOnHand"] == 13

    async def test_persistent_5xx_raises_transient(self, proxy: str, make_template: TemplateFactory) -> None:
        template = make_template(base_url=proxy, sleep=RecordingSleep(), max_attempts=3)
        await fault(proxy, status=503, count=10)
        with pytest.raises(TransientError):
            await read_all(template, Domain.ITEMS)
        assert (await statuses(proxy)) == [503, 503, 503]
