"""``VendureTemplate``: items, prices, stock and orders read from Vendure's Admin API; prices, stock
and promotions written back. Amounts are integers in minor units on both sides of the template."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from functools import partial
from typing import Any, ClassVar

from connectors.sdk.auth import AuthKind
from connectors.sdk.context import ConnectorContext
from connectors.sdk.domains import Domain, Kind
from connectors.sdk.ratelimit import RateLimit
from connectors.sdk.results import ConnectionCheck, ReadPage, WriteResult
from connectors.sdk.template import ConnectorTemplate
from connectors.templates.vendure import operations, records
from connectors.templates.vendure.changes import ChangeMark, changes
from connectors.templates.vendure.graphql import VendureCredentials, VendureGraphql
from connectors.templates.vendure.promotions import write_promotions
from connectors.templates.vendure.variants import price_input, stock_input, stock_locations, write_variants

MAX_PAGE_SIZE = 1000
"""Vendure's default ``adminListQueryLimit``."""

SHAPES: dict[Domain, Callable[[dict[str, Any]], list[dict[str, Any]]]] = {
    Domain.ITEMS: lambda variant: [records.item_record(variant)],
    Domain.PRICES: records.price_records,
    Domain.INVENTORY: records.stock_records,
    Domain.ORDERS: lambda order: [records.order_record(order)],
}
"""Source payloads per domain, from one variant or order; items, prices and stock share one query."""

PLACED_ORDERS = {"active": {"eq": False}}
"""Orders past checkout; active orders are shoppers' carts."""

CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "title": "Vendure",
    "required": ["base_url", "username", "password"],
    "additionalProperties": False,
    "properties": {
        "base_url": {
            "type": "string",
            "format": "uri",
            "pattern": "^https?://",
            "title": "Server URL",
            "description": "Where the Vendure server answers, e.g. https://shop.example.com",
        },
        "admin_api_path": {"type": "string", "default": "admin-api", "title": "Admin API path"},
        "shop_api_path": {"type": "string", "default": "shop-api", "title": "Shop API path"},
        "username": {"type": "string", "minLength": 1, "title": "Administrator username"},
        "password": {"type": "string", "minLength": 1, "writeOnly": True, "title": "Administrator password"},
        "channel_token": {
            "type": "string",
            "title": "Channel token",
            "description": "Sent as vendure-token to work in one channel; the default channel without it.",
        },
        "language_code": {"type": "string", "default": "en", "pattern": "^[a-z]{2}(_[A-Za-z]{2,4})?$"},
        "page_size": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": 100},
    },
}


class VendureTemplate(ConnectorTemplate):
    key: ClassVar[str] = "vendure"
    name: ClassVar[str] = "Vendure"
    kind: ClassVar[Kind] = Kind.ECOMMERCE
    reads: ClassVar[frozenset[Domain]] = frozenset(
        {Domain.ITEMS, Domain.PRICES, Domain.INVENTORY, Domain.ORDERS}
    )
    writes: ClassVar[frozenset[Domain]] = frozenset({Domain.PRICES, Domain.INVENTORY, Domain.PROMOTIONS})
    config_schema: ClassVar[dict[str, Any]] = CONFIG_SCHEMA
    auth: ClassVar[tuple[AuthKind, ...]] = ("basic",)
    rate_limit: ClassVar[RateLimit] = RateLimit(rate=20, burst=40)
    batch_size: ClassVar[int] = 100

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        self.graphql = VendureGraphql(
            context,
            base_url=self.settings["base_url"],
            admin_api_path=self.settings["admin_api_path"],
            credentials=VendureCredentials(self.settings["username"], self.settings["password"]),
            channel_token=self.settings.get("channel_token"),
            language_code=self.settings["language_code"],
        )
        self.page_size: int = self.settings["page_size"]

    async def aclose(self) -> None:
        await self.graphql.aclose()

    async def test_connection(self) -> ConnectionCheck:
        """Log in, then read the active channel from the Admin API and check the Shop API answers."""
        await self.graphql.login()
        data = await self.graphql.execute(operations.ACTIVE_CHANNEL, operation="activeChannel")
        channel = data["activeChannel"]
        shop = "/" + self.settings["shop_api_path"].strip("/")
        await self.graphql.http.json("POST", shop, json={"query": "{ activeChannel { code } }"})
        return ConnectionCheck(
            ok=True,
            detail=f"logged in as {self.settings['username']} on channel {channel['code']} "
            f"({channel['defaultCurrencyCode']}); Shop API at {shop} answers",
        )

    async def read(self, domain: Domain, cursor: str | None = None) -> AsyncIterator[ReadPage]:
        self.check_domain(domain, writing=False)
        mark = ChangeMark.decode(cursor)
        shape = SHAPES[domain]
        if domain is Domain.ORDERS:
            pages = changes(self._orders, mark, page_size=self.page_size, base_filter=PLACED_ORDERS)
        else:
            pages = changes(self._variants, mark, page_size=self.page_size)
        delivered = False
        async for page, mark in pages:
            delivered = True
            yield ReadPage([record for source in page for record in shape(source)], cursor=mark.encode())
        if not delivered:
            # Nothing changed: hand the cursor back so the caller keeps its place.
            yield ReadPage([], cursor=mark.encode())

    async def _variants(self, options: dict[str, Any]) -> list[dict[str, Any]]:
        data = await self.graphql.execute(
            operations.PRODUCT_VARIANTS, {"options": options}, operation="productVariants"
        )
        items: list[dict[str, Any]] = data["productVariants"]["items"]
        return items

    async def _orders(self, options: dict[str, Any]) -> list[dict[str, Any]]:
        data = await self.graphql.execute(operations.ORDERS, {"options": options}, operation="orders")
        items: list[dict[str, Any]] = data["orders"]["items"]
        return items

    async def write(self, domain: Domain, payloads: Sequence[Mapping[str, Any]]) -> list[WriteResult]:
        self.check_domain(domain, writing=True)
        if domain is Domain.PRICES:
            return await write_variants(self.graphql, payloads, price_input)
        if domain is Domain.INVENTORY:
            locations = await stock_locations(self.graphql, payloads)
            return await write_variants(self.graphql, payloads, partial(stock_input, locations=locations))
        return await write_promotions(self.graphql, payloads, self.settings["language_code"])
