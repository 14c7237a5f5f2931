"""The Tryton template against a real trytond: connection, reads with cursors, writes read back over
a separate JSON-RPC client, and the fault proxy's 429s and 5xx bursts in front of the real server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import httpx
import pytest

from connectors.peers.tryton import TrytonPeer
from connectors.sandboxes.fault_proxy import create_app
from connectors.sdk.domains import Domain
from connectors.sdk.errors import PermanentError, TransientError
from connectors.sdk.results import ReadPage
from connectors.sdk.template import check_connection
from connectors.templates.tryton.cursor import ChangeCursor
from connectors.templates.tryton.rpc import decode_object, encode_value
from connectors.templates.tryton.template import TrytonTemplate
from tests.connectors.recording import RecordingSleep
from tests.connectors.serving import serve
from tests.connectors.tryton.conftest import Catalog, RawTryton, create_product, decimal, quantity_of


async def read_all(template: TrytonTemplate, domain: Domain, cursor: str | None = None) -> list[ReadPage]:
    return [page async for page in template.read(domain, cursor)]


class TestCodec:
    def test_decimal_and_datetime_round_trip(self) -> None:
        import json
        from datetime import UTC, date, datetime

        value = {
            "price": Decimal("19.990"),
            "at": datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
            "on": date(2026, 1, 2),
        }
        encoded = encode_value(value)
        assert encoded["price"] == {"__class__": "Decimal", "decimal": "19.990"}
        assert json.loads(json.dumps(encoded), object_hook=decode_object) == value


class TestConnection:
    async def test_ok(self, make_template: Any) -> None:
        async with make_template() as template:
            check = await check_connection(template)
        assert check.ok, check.detail
        assert "Shelfsync Demo Retail" in check.detail
        assert "EUR" in check.detail

    async def test_wrong_password(self, make_template: Any) -> None:
        async with make_template(password="not-the-password") as template:
            check = await check_connection(template)
        assert not check.ok
        assert "wrong user name or password" in check.detail

    async def test_unknown_warehouse(self, make_template: Any) -> None:
        async with make_template(warehouse="NOPE") as template:
            check = await check_connection(template)
        assert not check.ok
        assert "NOPE" in check.detail


class TestRead:
    async def test_full_read_pages(self, make_template: Any, raw: RawTryton, catalog: Catalog) -> None:
        async with make_template(page_size=2) as template:
            pages = await read_all(template, Domain.ITEMS)
        codes = [record["code"] for page in pages for record in page.records]
        expected = await raw.model("product.product", "search_count", [["code", "!=", None]])
        assert len(pages) >= 3
        assert all(len(page.records) <= 2 for page in pages)
        assert len(codes) == len(set(codes)) == expected
        assert set(catalog.codes) <= set(codes)
        first = next(r for p in pages for r in p.records if r["code"] == catalog.codes[0])
        assert first["list_price"] == "10.00"
        assert first["currency"] == "EUR"
        assert isinstance(first["source_version"], int)

    async def test_incremental_returns_only_the_changed_product(
        self, make_template: Any, raw: RawTryton, catalog: Catalog
    ) -> None:
        async with make_template(page_size=2) as template:
            pages = await read_all(template, Domain.PRICES)
            cursor = pages[-1].cursor
            assert [r for p in await read_all(template, Domain.PRICES, cursor) for r in p.records] == []
            # A price lives on the template: the product itself is not written.
            product = (
                await raw.model(
                    "product.product",
                    "search_read",
                    [["code", "=", catalog.codes[2]]],
                    0,
                    1,
                    None,
                    ["template"],
                )
            )[0]
            await raw.model(
                "product.template", "write", [product["template"]], {"list_price": decimal("12.34")}
            )
            changed = [r for p in await read_all(template, Domain.PRICES, cursor) for r in p.records]
        assert [(r["code"], r["list_price"]) for r in changed] == [(catalog.codes[2], "12.34")]

    async def test_resume_after_a_page(self, make_template: Any, catalog: Catalog) -> None:
        async with make_template(page_size=2) as template:
            pages = await read_all(template, Domain.ITEMS)
            resumed = await read_all(template, Domain.ITEMS, pages[0].cursor)
        rest = [r["code"] for p in pages[1:] for r in p.records]
        assert [r["code"] for p in resumed for r in p.records] == rest
        assert ChangeCursor.parse(pages[0].cursor).since is None

    async def test_bad_cursor(self, make_template: Any) -> None:
        async with make_template() as template:
            with pytest.raises(PermanentError, match="cursor"):
                await read_all(template, Domain.ITEMS, "garbage")


class TestWrite:
    async def test_price_written_and_read_back(
        self, make_template: Any, raw: RawTryton, catalog: Catalog
    ) -> None:
        code = catalog.codes[0]
        async with make_template() as template:
            results = await template.write(
                Domain.PRICES, [{"code": code, "list_price": "21.50", "currency": "EUR"}]
            )
        assert [r.status for r in results] == ["ok"]
        rows = await raw.model(
            "product.product", "search_read", [["code", "=", code]], 0, 1, None, ["template.list_price"]
        )
        assert Decimal(rows[0]["template."]["list_price"]["decimal"]) == Decimal("21.50")

    async def test_batch_with_unknown_code_and_malformed_price(
        self, make_template: Any, raw: RawTryton, catalog: Catalog
    ) -> None:
        payloads = [
            {"code": catalog.codes[3], "list_price": "7.00"},
            {"code": "NO-SUCH-CODE", "list_price": "1.00"},
            {"code": catalog.codes[4], "list_price": "not a number"},
            {"code": catalog.codes[4], "list_price": "0.123456789"},  # more digits than Tryton keeps
            {"code": catalog.codes[5], "list_price": "8.00"},
        ]
        async with make_template() as template:
            results = await template.write(Domain.PRICES, payloads)
        assert [r.status for r in results] == ["ok", "failed", "failed", "failed", "ok"]
        assert "NO-SUCH-CODE" in (results[1].error or "")
        assert "list_price" in (results[2].error or "")
        assert "Tryton rejected" in (results[3].error or "")
        wanted = [catalog.codes[3], catalog.codes[5]]
        rows = await raw.model(
            "product.product",
            "search_read",
            [["code", "in", wanted]],
            0,
            None,
            None,
            ["code", "template.list_price"],
        )
        assert {r["code"]: Decimal(r["template."]["list_price"]["decimal"]) for r in rows} == {
            catalog.codes[3]: Decimal("7.00"),
            catalog.codes[5]: Decimal("8.00"),
        }

    async def test_stock_counts_up_and_down(
        self, make_template: Any, raw: RawTryton, catalog: Catalog
    ) -> None:
        code = catalog.new_code()
        await create_product(raw, code)
        async with make_template() as template:
            up = await template.write(
                Domain.INVENTORY, [{"code": code, "quantity": 12}, {"code": "NOPE", "quantity": 1}]
            )
            assert [r.status for r in up] == ["ok", "failed"]
            assert up[0].details == {"previous": 0.0, "delta": 12.0}
            assert await quantity_of(raw, code) == 12.0
            down = await template.write(
                Domain.INVENTORY, [{"code": code, "quantity": 5}, {"code": code, "quantity": -1}]
            )
            assert [r.status for r in down] == ["ok", "failed"]
            assert await quantity_of(raw, code) == 5.0
            pages = await read_all(template, Domain.INVENTORY)
        stock = {r["code"]: r["quantity"] for p in pages for r in p.records}
        assert stock[code] == 5.0

    async def test_inventory_incremental(self, make_template: Any, raw: RawTryton, catalog: Catalog) -> None:
        code = catalog.new_code()
        await create_product(raw, code)
        async with make_template(page_size=3) as template:
            cursor = (await read_all(template, Domain.INVENTORY))[-1].cursor
            await template.write(Domain.INVENTORY, [{"code": code, "quantity": 4}])
            changed = [r for p in await read_all(template, Domain.INVENTORY, cursor) for r in p.records]
        assert [(r["code"], r["quantity"], r["location"]) for r in changed] == [(code, 4.0, "WH")]

    async def test_order_created_and_read_back(
        self, make_template: Any, raw: RawTryton, catalog: Catalog
    ) -> None:
        reference = f"{catalog.prefix}-ORDER-1"
        order = {
            "reference": reference,
            "party": {
                "name": f"Buyer {catalog.prefix}",
                "address": {"street": "1 Rue de Rivoli", "city": "Paris"},
            },
            "sale_date": "2026-03-01",
            "lines": [
                {"code": catalog.codes[0], "quantity": 2, "unit_price": "9.99"},
                {"code": catalog.codes[1], "quantity": 1, "unit_price": "5.00"},
            ],
        }
        bad = {
            **order,
            "reference": f"{catalog.prefix}-ORDER-2",
            "lines": [{"code": "NOPE", "quantity": 1, "unit_price": "1"}],
        }
        async with make_template() as template:
            results = await template.write(Domain.ORDERS, [order, bad])
            assert [r.status for r in results] == ["ok", "failed"]
            assert "NOPE" in (results[1].error or "")
            again = await template.write(Domain.ORDERS, [order])
            assert again[0].destination_id == results[0].destination_id
            assert again[0].details["duplicate"]
            sales = [r for p in await read_all(template, Domain.ORDERS) for r in p.records]
        sale_id = int(results[0].destination_id or 0)
        raw_sale = (
            await raw.model(
                "sale.sale", "read", [sale_id], ["state", "reference", "total_amount", "party.name"]
            )
        )[0]
        assert raw_sale["state"] == "quotation"
        assert raw_sale["reference"] == reference
        assert Decimal(raw_sale["total_amount"]["decimal"]) == Decimal("24.98")
        mine = [s for s in sales if s["reference"] == reference]
        assert len(mine) == 1
        assert mine[0]["number"] == results[0].details["number"]
        assert mine[0]["party"]["name"] == f"Buyer {catalog.prefix}"
        assert [(ln["code"], ln["quantity"], ln["unit_price"]) for ln in mine[0]["lines"]] == [
            (catalog.codes[0], 2.0, "9.99"),
            (catalog.codes[1], 1.0, "5.00"),
        ]
        assert not [s for s in sales if s["reference"] == f"{catalog.prefix}-ORDER-2"]


@asynccontextmanager
async def faulty_tryton(peer: TrytonPeer) -> AsyncIterator[str]:
    """The fault proxy in front of the real trytond; yields the proxy's base URL."""
    async with serve(create_app(upstream=peer.base_url)) as proxy:
        yield proxy


async def add_fault(client: httpx.AsyncClient, **fault: Any) -> None:
    (await client.post("/_sandbox/faults", json=fault)).raise_for_status()


async def statuses(client: httpx.AsyncClient) -> list[int | None]:
    return [entry["status"] for entry in (await client.get("/_sandbox/requests")).json()]


class TestFaults:
    async def test_429_retry_after_honoured(
        self, make_template: Any, tryton_peer: TrytonPeer, sleeps: RecordingSleep, catalog: Catalog
    ) -> None:
        async with (
            faulty_tryton(tryton_peer) as proxy,
            httpx.AsyncClient(base_url=proxy) as control,
        ):
            async with make_template(base_url=proxy) as template:
                await template.site()
                before = len(await statuses(control))
                await add_fault(control, status=429, count=2, retry_after=3)
                pages = await read_all(template, Domain.ITEMS)
            assert pages
            assert set(catalog.codes) <= {r["code"] for p in pages for r in p.records}
            assert sleeps.calls == [3.0, 3.0]
            assert (await statuses(control))[before : before + 3] == [429, 429, None]

    async def test_5xx_burst_retried(
        self, make_template: Any, tryton_peer: TrytonPeer, sleeps: RecordingSleep
    ) -> None:
        async with (
            faulty_tryton(tryton_peer) as proxy,
            httpx.AsyncClient(base_url=proxy) as control,
        ):
            await add_fault(control, status=503, count=2)
            async with make_template(base_url=proxy, max_attempts=4) as template:
                check = await check_connection(template)
            assert check.ok, check.detail
            assert (await statuses(control))[:3] == [503, 503, None]
            assert len(sleeps.calls) == 2

    async def test_persistent_5xx_is_transient(self, make_template: Any, tryton_peer: TrytonPeer) -> None:
        async with (
            faulty_tryton(tryton_peer) as proxy,
            httpx.AsyncClient(base_url=proxy) as control,
        ):
            await add_fault(control, status=503, count=50)
            async with make_template(base_url=proxy, max_attempts=3) as template:
                with pytest.raises(TransientError, match="503"):
                    await template.rpc.login()
            assert (await statuses(control)) == [503, 503, 503]
