"""/api/v1/prices: the tenant's canonical prices, filtered by scope, or only those in force at a moment;
amounts as decimal strings, paged by key."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest
from litestar.testing import AsyncTestClient

from app.database.engine import Database
from app.database.scope import DbScope
from app.prices.models import EVER, PriceEntry
from tenants.models import Tenant
from tests import factories
from tests.app.api.calls import assert_problem, bearer
from tests.factories import World

URL = "/api/v1/prices"
JAN = datetime.fromisoformat("2026-01-01T00:00:00+00:00")
FEB = datetime.fromisoformat("2026-02-01T00:00:00+00:00")
MAR = datetime.fromisoformat("2026-03-01T00:00:00+00:00")


def price(
    tenant: Tenant,
    sku: str,
    amount: str,
    *,
    price_list: str = "default",
    channel: str = "",
    region: str = "",
    start: datetime = EVER,
    end: datetime | None = None,
    compare_at: str | None = None,
) -> PriceEntry:
    return PriceEntry(
        tenant_id=tenant.id,
        sku=sku,
        price_list=price_list,
        channel=channel,
        region=region,
        effective_from=start,
        effective_to=end,
        currency="EUR",
        amount=Decimal(amount),
        compare_at=Decimal(compare_at) if compare_at is not None else None,
        source_version=3,
    )


@pytest.fixture
async def key(world: World, db: Database) -> str:
    return await factories.make_api_key(db, world.tenant_a1, ["prices:read"])


@pytest.fixture
async def priced(world: World, db: Database) -> None:
    a1 = world.tenant_a1
    async with db.transaction(DbScope.system()) as session:
        session.add_all(
            [
                price(a1, "SKU-1", "19.99", compare_at="25"),
                price(a1, "SKU-1", "17.50", start=FEB, end=MAR),
                price(a1, "SKU-1", "18", channel="web"),
                price(a1, "SKU-1", "21", price_list="retail", region="nl"),
                price(a1, "SKU-2", "100", start=JAN),
                price(world.tenant_a2, "SKU-1", "1"),
            ]
        )


async def listed(client: AsyncTestClient[Any], key: str, query: str = "") -> Any:
    response = await client.get(f"{URL}{query}", headers=bearer(key))
    assert response.status_code == 200, response.text
    return response.json()


def amounts(page: Any) -> list[tuple[str, str]]:
    return [(item["sku"], item["amount"]) for item in page["items"]]


class TestListPrices:
    async def test_anonymous(self, client: AsyncTestClient[Any]) -> None:
        assert_problem(await client.get(URL), 401, "missing-api-key")

    async def test_missing_scope(self, client: AsyncTestClient[Any], world: World, db: Database) -> None:
        other = await factories.make_api_key(db, world.tenant_a1, ["stock:read"])
        assert_problem(await client.get(URL, headers=bearer(other)), 403, "missing-scope")

    async def test_fields_with_amounts_as_strings_and_no_start_as_null(
        self, client: AsyncTestClient[Any], key: str, priced: None
    ) -> None:
        first = (await listed(client, key, "?limit=1"))["items"][0]
        assert first == {
            "sku": "SKU-1",
            "price_list": "default",
            "channel": None,
            "region": None,
            "currency": "EUR",
            "amount": "19.99",
            "compare_at": "25",
            "effective_from": None,
            "effective_to": None,
            "source_version": 3,
            "updated_at": first["updated_at"],
        }
        [dated] = (await listed(client, key, "?sku=SKU-2"))["items"]
        assert (dated["amount"], dated["effective_from"]) == ("100", "2026-01-01T00:00:00Z")

    async def test_ordered_by_sku_list_channel_region_start_across_pages(
        self, client: AsyncTestClient[Any], key: str, priced: None
    ) -> None:
        seen: list[tuple[str, str]] = []
        query = "?limit=2"
        for _ in range(4):
            page = await listed(client, key, query)
            assert len(page["items"]) <= 2
            seen += amounts(page)
            if page["next_cursor"] is None:
                break
            query = f"?limit=2&cursor={page['next_cursor']}"
        assert seen == [
            ("SKU-1", "19.99"),  # default, any channel, any region, from the beginning
            ("SKU-1", "17.5"),  # default, any channel, any region, from February
            ("SKU-1", "18"),  # default, web
            ("SKU-1", "21"),  # retail, nl
            ("SKU-2", "100"),
        ]

    async def test_filters(self, client: AsyncTestClient[Any], key: str, priced: None) -> None:
        assert amounts(await listed(client, key, "?channel=web")) == [("SKU-1", "18")]
        assert amounts(await listed(client, key, "?price_list=retail")) == [("SKU-1", "21")]
        assert amounts(await listed(client, key, "?region=nl&sku=SKU-1")) == [("SKU-1", "21")]
        assert amounts(await listed(client, key, "?sku=SKU-2")) == [("SKU-2", "100")]
        assert (await listed(client, key, "?sku=SKU-2&channel=web"))["items"] == []

    async def test_at_keeps_only_prices_in_force(
        self, client: AsyncTestClient[Any], key: str, priced: None
    ) -> None:
        in_february = await listed(
            client, key, f"?sku=SKU-1&price_list=default&at={quote('2026-02-10T12:00:00+00:00')}"
        )
        assert amounts(in_february) == [("SKU-1", "19.99"), ("SKU-1", "17.5"), ("SKU-1", "18")]
        at_the_end = await listed(client, key, "?sku=SKU-1&price_list=default&at=2026-03-01T00:00:00Z")
        assert amounts(at_the_end) == [("SKU-1", "19.99"), ("SKU-1", "18")]  # effective_to is exclusive
        before_january = await listed(client, key, "?sku=SKU-2&at=2025-12-31T23:59:59Z")
        assert before_january["items"] == []
        at_the_start = await listed(client, key, "?sku=SKU-2&at=2026-01-01T00:00:00Z")
        assert amounts(at_the_start) == [("SKU-2", "100")]

    async def test_at_needs_an_offset(self, client: AsyncTestClient[Any], key: str) -> None:
        problem = assert_problem(
            await client.get(f"{URL}?at=2026-02-10T12:00:00", headers=bearer(key)), 400, "bad-request"
        )
        assert problem["errors"] == [{"path": "at", "reason": "needs a UTC offset"}]
        assert_problem(await client.get(f"{URL}?at=next-tuesday", headers=bearer(key)), 400, "bad-request")

    async def test_other_tenant_sees_only_its_own(
        self, client: AsyncTestClient[Any], world: World, db: Database, priced: None
    ) -> None:
        stranger = await factories.make_api_key(db, world.tenant_a2, ["prices:read"])
        assert amounts(await listed(client, stranger)) == [("SKU-1", "1")]
        outsider = await factories.make_api_key(db, world.tenant_b1, ["prices:read"])
        assert (await listed(client, outsider))["items"] == []
