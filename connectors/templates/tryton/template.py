"""The Tryton ERP template: items, prices, stock and sales over JSON-RPC with a logged-in session."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, ClassVar

from connectors.sdk.auth import AuthKind
from connectors.sdk.context import ConnectorContext
from connectors.sdk.domains import Domain, Kind
from connectors.sdk.ratelimit import RateLimit
from connectors.sdk.results import ConnectionCheck, ReadPage, WriteResult
from connectors.sdk.template import ConnectorTemplate
from connectors.templates.tryton import reads, writes
from connectors.templates.tryton.cursor import ChangeCursor
from connectors.templates.tryton.rpc import TrytonRpc
from connectors.templates.tryton.site import TrytonSite, resolve_site

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["base_url", "database", "username", "password"],
    "additionalProperties": False,
    "properties": {
        "base_url": {
            "type": "string",
            "pattern": "^https?://",
            "title": "Server URL",
            "description": "Where trytond listens, e.g. https://erp.example.com",
        },
        "database": {"type": "string", "minLength": 1, "title": "Database name"},
        "username": {"type": "string", "minLength": 1, "title": "Login"},
        "password": {"type": "string", "minLength": 1, "writeOnly": True, "title": "Password"},
        "company_id": {
            "type": "integer",
            "minimum": 1,
            "title": "Company id",
            "description": "Defaults to the user's current company",
        },
        "warehouse": {
            "type": "string",
            "minLength": 1,
            "default": "WH",
            "title": "Warehouse code",
            "description": "Stock is read and counted at this warehouse's storage zone",
        },
        "location_id": {
            "type": "integer",
            "minimum": 1,
            "title": "Location id",
            "description": "A warehouse or storage zone by id; overrides the warehouse code",
        },
        "page_size": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
    },
}


class TrytonTemplate(ConnectorTemplate):
    key = "tryton"
    name = "Tryton"
    kind = Kind.ERP
    reads = frozenset({Domain.ITEMS, Domain.PRICES, Domain.INVENTORY, Domain.ORDERS})
    writes = frozenset({Domain.PRICES, Domain.INVENTORY, Domain.ORDERS})
    config_schema: ClassVar[dict[str, Any]] = CONFIG_SCHEMA
    auth: ClassVar[tuple[AuthKind, ...]] = ("basic",)
    rate_limit = RateLimit(rate=10, burst=20)
    batch_size = 100

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        self.rpc = TrytonRpc(
            context,
            base_url=self.settings["base_url"],
            database=self.settings["database"],
            username=self.settings["username"],
            password=self.settings["password"],
        )
        self._site: TrytonSite | None = None

    async def aclose(self) -> None:
        await self.rpc.aclose()

    async def site(self) -> TrytonSite:
        """Company, currency and warehouse, looked up once per instance."""
        if self._site is None:
            self._site = await resolve_site(self.rpc, self.settings)
        return self._site

    async def test_connection(self) -> ConnectionCheck:
        await self.rpc.login()
        site = await self.site()
        return ConnectionCheck(
            ok=True,
            detail=(
                f"logged in to Tryton database {self.rpc.database!r} as {self.rpc.username!r}; "
                f"company {site.company_name!r} ({site.currency_code}), warehouse {site.warehouse_code!r}"
            ),
        )

    async def read(self, domain: Domain, cursor: str | None = None) -> AsyncIterator[ReadPage]:
        self.check_domain(domain, writing=False)
        state = ChangeCursor.parse(cursor)
        site = await self.site()
        page_size = int(self.settings["page_size"])
        if domain is Domain.ITEMS:
            pages = reads.read_products(self.rpc, site, state, page_size, reads.item_payload)
        elif domain is Domain.PRICES:
            pages = reads.read_products(self.rpc, site, state, page_size, reads.price_payload)
        elif domain is Domain.INVENTORY:
            pages = reads.read_inventory(self.rpc, site, state, page_size)
        else:
            pages = reads.read_sales(self.rpc, site, state, page_size)
        async for page in pages:
            yield page

    async def write(self, domain: Domain, payloads: Sequence[Mapping[str, Any]]) -> list[WriteResult]:
        self.check_domain(domain, writing=True)
        if not payloads:
            return []
        site = await self.site()
        if domain is Domain.PRICES:
            return await writes.write_prices(self.rpc, site, payloads)
        if domain is Domain.INVENTORY:
            return await writes.write_stock(self.rpc, site, payloads)
        return await writes.write_sales(self.rpc, site, payloads)
