"""/api/v1/stock: the tenant's canonical balances by SKU then location, filtered, paged by key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from app.database.engine import Database
from app.database.scope import DbScope
from app.inventory.models import StockLevel
from tenants.models import Tenant
from tests import factories
from tests.app.api.calls import assert_problem, bearer
from tests.factories import World

URL = "/api/v1/stock"
UPDATED = datetime.fromisoformat("2026-02-01T08:30:00+00:00")


async def add_stock(db: Database, tenant: Tenant, rows: list[tuple[str, str, int, int, int]]) -> None:
    """(sku, location, on_hand, reserved, safety_stock) rows."""
    async with db.transaction(DbScope.system()) as session:
        session.add_all(
            StockLevel(
                tenant_id=tenant.id,
                sku=sku,
                location=location,
                on_hand=on_hand,
                reserved=reserved,
                safety_stock=safety,
                source_version=7,
                updated_at=UPDATED,
            )
            for sku, location, on_hand, reserved, safety in rows
        )


@pytest.fixture
async def key(world: World, db: Database) -> str:
    return await factories.make_api_key(db, world.tenant_a1, ["stock:read"])


@pytest.fixture
async def stocked(world: World, db: Database) -> None:
    await add_stock(
        db,
        world.tenant_a1,
        [
            ("SKU-2", "store-1", 5, 0, 0),
            ("SKU-1", "web", 10, 2, 3),
            ("SKU-1", "store-1", 4, 1, 0),
            ("SKU-3", "web", 1, 2, 0),
        ],
    )
    await add_stock(db, world.tenant_a2, [("SKU-1", "web", 99, 0, 0)])


async def listed(client: AsyncTestClient[Any], key: str, query: str = "") -> Any:
    response = await client.get(f"{URL}{query}", headers=bearer(key))
    assert response.status_code == 200, response.text
    return response.json()


def places(page: Any) -> list[tuple[str, str]]:
    return [(item["sku"], item["location"]) for item in page["items"]]


class TestListStock:
    async def test_anonymous(self, client: AsyncTestClient[Any]) -> None:
        assert_problem(await client.get(URL), 401, "missing-api-key")

    async def test_missing_scope(self, client: AsyncTestClient[Any], world: World, db: Database) -> None:
        other = await factories.make_api_key(db, world.tenant_a1, ["prices:read"])
        assert_problem(await client.get(URL, headers=bearer(other)), 403, "missing-scope")

    async def test_balances_with_available(
        self, client: AsyncTestClient[Any], key: str, stocked: None
    ) -> None:
        page = await listed(client, key, "?sku=SKU-1&location=web")
        assert page == {
            "items": [
                {
                    "sku": "SKU-1",
                    "location": "web",
                    "on_hand": 10,
                    "reserved": 2,
                    "safety_stock": 3,
                    "available": 5,
                    "source_version": 7,
                    "updated_at": "2026-02-01T08:30:00Z",
                }
            ],
            "next_cursor": None,
        }

    async def test_available_is_never_negative(
        self, client: AsyncTestClient[Any], key: str, stocked: None
    ) -> None:
        [item] = (await listed(client, key, "?sku=SKU-3"))["items"]
        assert (item["on_hand"], item["reserved"], item["available"]) == (1, 2, 0)

    async def test_ordered_by_sku_then_location_across_pages(
        self, client: AsyncTestClient[Any], key: str, stocked: None
    ) -> None:
        first = await listed(client, key, "?limit=3")
        assert places(first) == [("SKU-1", "store-1"), ("SKU-1", "web"), ("SKU-2", "store-1")]
        rest = await listed(client, key, f"?limit=3&cursor={first['next_cursor']}")
        assert places(rest) == [("SKU-3", "web")]
        assert rest["next_cursor"] is None

    async def test_filters(self, client: AsyncTestClient[Any], key: str, stocked: None) -> None:
        assert places(await listed(client, key, "?sku=SKU-1")) == [("SKU-1", "store-1"), ("SKU-1", "web")]
        assert places(await listed(client, key, "?location=store-1")) == [
            ("SKU-1", "store-1"),
            ("SKU-2", "store-1"),
        ]
        assert (await listed(client, key, "?sku=SKU-404"))["items"] == []

    async def test_other_tenant_sees_only_its_own(
        self, client: AsyncTestClient[Any], world: World, db: Database, stocked: None
    ) -> None:
        stranger = await factories.make_api_key(db, world.tenant_a2, ["stock:read"])
        page = await listed(client, stranger)
        assert [(i["sku"], i["on_hand"]) for i in page["items"]] == [("SKU-1", 99)]
        outsider = await factories.make_api_key(db, world.tenant_b1, ["stock:read"])
        assert (await listed(client, outsider))["items"] == []

    async def test_a_cursor_of_another_list_is_refused(
        self, client: AsyncTestClient[Any], key: str, stocked: None
    ) -> None:
        dead_letter_cursor = "WyIyMDI2LTAxLTA1VDEwOjAwOjAwKzAwOjAwIiwgM10"  # [timestamp, 3]
        response = await client.get(f"{URL}?cursor={dead_letter_cursor}", headers=bearer(key))
        assert_problem(response, 400, "invalid-cursor")
