"""The Shopify template: items, prices, stock and orders read, and prices, stock and promotions written,
through the Admin GraphQL API with Shopify's cost-based throttling.

Incremental reads filter on ``updated_at:>'<cursor>'``. Orders come sorted by update time, so each page's
cursor is the latest time seen; variants cannot be sorted that way, so their cursor only moves forward
once the whole read is done (an interrupted read starts again from the previous cursor).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from connectors.sdk.context import ConnectorContext
from connectors.sdk.domains import Domain, Kind
from connectors.sdk.errors import AuthError, PermanentError
from connectors.sdk.ratelimit import RateLimit
from connectors.sdk.results import ConnectionCheck, ReadPage, WriteResult
from connectors.sdk.template import ConnectorTemplate
from connectors.sdk.webhooks import WebhookSignatureError
from connectors.templates.shopify import operations
from connectors.templates.shopify.client import ShopifyGraphql
from connectors.templates.shopify.records import inventory_records, order_record, variant_record
from connectors.templates.shopify.webhooks import parse_order_webhook
from connectors.templates.shopify.writes import write_inventory, write_prices, write_promotions

# Shopify refuses a query costing over 1000 points (see throttle.py), so the nested connections limit
# how many parents one page may ask for: 50 variants × 5 levels, 10 orders × 15 lines stay under it.
INVENTORY_LEVELS_PER_VARIANT = 5
INVENTORY_PAGE_LIMIT = 50
LINES_PER_ORDER = 15
ORDERS_PAGE_LIMIT = 10


def _since_filter(cursor: str | None) -> str | None:
    """The search filter for records changed after ``cursor`` (checked to be a timestamp, not a query)."""
    if cursor is None:
        return None
    try:
        datetime.fromisoformat(cursor)
    except ValueError:
        raise PermanentError(f"cursor {cursor!r} is not an ISO 8601 timestamp") from None
    return f"updated_at:>'{cursor}'"


def _later(current: str | None, candidate: str | None) -> str | None:
    if candidate is None:
        return current
    if current is None or datetime.fromisoformat(candidate) > datetime.fromisoformat(current):
        return candidate
    return current


class ShopifyTemplate(ConnectorTemplate):
    key = "shopify"
    name = "Shopify"
    kind = Kind.ECOMMERCE
    reads = frozenset({Domain.ITEMS, Domain.PRICES, Domain.INVENTORY, Domain.ORDERS})
    writes = frozenset({Domain.PRICES, Domain.INVENTORY, Domain.PROMOTIONS})
    auth = ("api_key",)
    # Shopify meters GraphQL by query cost (see throttle.py); this only caps the request rate around it.
    rate_limit = RateLimit(rate=20, burst=40)
    batch_size = 100
    config_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "required": ["shop_url", "access_token"],
        "additionalProperties": False,
        "properties": {
            "shop_url": {
                "type": "string",
                "pattern": "^https?://[^/\\s]+/?$",
                "description": "The shop's base URL, e.g. https://example.myshopify.com",
            },
            "access_token": {
                "type": "string",
                "minLength": 1,
                "writeOnly": True,
                "description": "Admin API access token of the custom app (X-Shopify-Access-Token)",
            },
            "api_version": {
                "type": "string",
                "pattern": "^(\\d{4}-\\d{2}|unstable)$",
                "default": operations.API_VERSION,
                "description": "Admin API version; the default is the one our queries are validated against",
            },
            "location_id": {
                "type": "string",
                "pattern": "^gid://shopify/Location/\\d+$",
                "description": "Location whose stock is read and written, e.g. gid://shopify/Location/1",
            },
            "webhook_secret": {
                "type": "string",
                "minLength": 1,
                "writeOnly": True,
                "description": "The app's secret that signs webhooks (X-Shopify-Hmac-Sha256)",
            },
            "page_size": {"type": "integer", "minimum": 1, "maximum": 250, "default": 50},
        },
    }

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        self.client = ShopifyGraphql(
            context,
            shop_url=str(self.settings["shop_url"]),
            access_token=str(self.settings["access_token"]),
            api_version=str(self.settings["api_version"]),
        )
        self._currency: str | None = None

    async def aclose(self) -> None:
        await self.client.aclose()

    async def test_connection(self) -> ConnectionCheck:
        try:
            data = await self.client.execute(operations.SHOP)
        except AuthError as error:
            raise AuthError(
                f"Shopify refused the access token: {error.message}", status=error.status
            ) from None
        shop = data["shop"]
        self._currency = shop["currencyCode"]
        return ConnectionCheck(ok=True, detail=f"connected to {shop['name']} ({shop['myshopifyDomain']})")

    async def _shop_currency(self) -> str:
        if self._currency is None:
            data = await self.client.execute(operations.SHOP)
            self._currency = str(data["shop"]["currencyCode"])
        return self._currency

    async def read(self, domain: Domain, cursor: str | None = None) -> AsyncIterator[ReadPage]:
        self.check_domain(domain, writing=False)
        if domain is Domain.ORDERS:
            async for page in self._read_orders(cursor):
                yield page
            return
        async for page in self._read_variants(domain, cursor):
            yield page

    async def _pages(
        self, document: str, root: str, cursor: str | None, extra: Mapping[str, Any], *, limit: int = 250
    ) -> AsyncIterator[tuple[list[dict[str, Any]], bool]]:
        """(nodes, is_last) per page of the connection at ``root``."""
        after: str | None = None
        while True:
            variables = {
                "first": min(int(self.settings["page_size"]), limit),
                "after": after,
                "query": _since_filter(cursor),
                **extra,
            }
            connection = (await self.client.execute(document, variables))[root]
            info = connection["pageInfo"]
            is_last = not info["hasNextPage"]
            yield connection["nodes"], is_last
            if is_last:
                return
            after = info["endCursor"]

    async def _read_variants(self, domain: Domain, cursor: str | None) -> AsyncIterator[ReadPage]:
        latest = cursor
        limit = 250
        if domain is Domain.INVENTORY:
            document, extra = operations.INVENTORY_LEVELS, {"levels": INVENTORY_LEVELS_PER_VARIANT}
            limit = INVENTORY_PAGE_LIMIT
        else:
            document, extra = operations.VARIANTS, {}
            currency = await self._shop_currency()
        location = self.settings.get("location_id")
        async for nodes, is_last in self._pages(document, "productVariants", cursor, extra, limit=limit):
            records: list[dict[str, Any]] = []
            for node in nodes:
                latest = _later(latest, node.get("updatedAt"))
                if domain is Domain.INVENTORY:
                    records.extend(inventory_records(node, location))
                else:
                    records.append(variant_record(node, currency))
            yield ReadPage(records=records, cursor=latest if is_last else cursor)

    async def _read_orders(self, cursor: str | None) -> AsyncIterator[ReadPage]:
        latest = cursor
        extra = {"lines": LINES_PER_ORDER}
        async for nodes, _ in self._pages(
            operations.ORDERS, "orders", cursor, extra, limit=ORDERS_PAGE_LIMIT
        ):
            records = [order_record(node) for node in nodes]
            for record in records:
                latest = _later(latest, record["updated_at"])
            yield ReadPage(records=records, cursor=latest)

    async def write(self, domain: Domain, payloads: Sequence[Mapping[str, Any]]) -> list[WriteResult]:
        self.check_domain(domain, writing=True)
        if not payloads:
            return []
        if domain is Domain.PRICES:
            return await write_prices(self.client, payloads)
        if domain is Domain.INVENTORY:
            return await write_inventory(self.client, payloads, self.settings.get("location_id"))
        return await write_promotions(self.client, payloads)

    def parse_order_webhook(self, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        """An ``orders/create`` delivery as the flat order dict ``read(orders)`` yields.

        Raises ``WebhookSignatureError`` when the signature does not match ``webhook_secret``.
        """
        secret = self.settings.get("webhook_secret")
        if not secret:
            raise WebhookSignatureError("this connection has no webhook_secret configured")
        return parse_order_webhook([str(secret)], headers, body, self.context.now().timestamp())
