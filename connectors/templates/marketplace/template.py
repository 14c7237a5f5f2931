"""The marketplace template (Amazon SP-API style): writes prices and stock to listings, reads orders and
listings (as items, or as their offer prices). Small batches go out as one Listings PATCH per SKU, bigger
ones as a JSON_LISTINGS_FEED."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, ClassVar

from connectors.sdk.auth import AuthKind
from connectors.sdk.context import ConnectorContext
from connectors.sdk.domains import Domain, Kind
from connectors.sdk.http import ConnectorHttp
from connectors.sdk.ratelimit import RateLimit
from connectors.sdk.results import ConnectionCheck, ReadPage, WriteResult
from connectors.sdk.template import ConnectorTemplate
from connectors.templates.marketplace.feeds import FeedSettings, ListingsFeed
from connectors.templates.marketplace.listings import Listings
from connectors.templates.marketplace.lwa import LwaCredentials, LwaTokens, SpApiAuth
from connectors.templates.marketplace.orders import Orders
from connectors.templates.marketplace.patches import ListingPatch, PayloadError, listing_patch

CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["seller_id", "marketplace_id", "client_id", "client_secret", "refresh_token"],
    "properties": {
        "base_url": {
            "type": "string",
            "title": "SP-API endpoint",
            "default": "https://sellingpartnerapi-eu.amazon.com",
        },
        "token_url": {
            "type": "string",
            "title": "Login with Amazon token URL",
            "default": "https://api.amazon.com/auth/o2/token",
        },
        "seller_id": {"type": "string", "minLength": 1, "title": "Seller (merchant) id"},
        "marketplace_id": {"type": "string", "minLength": 1, "title": "Marketplace id"},
        "client_id": {"type": "string", "minLength": 1, "title": "LWA client id"},
        "client_secret": {"type": "string", "minLength": 1, "writeOnly": True, "title": "LWA client secret"},
        "refresh_token": {"type": "string", "minLength": 1, "writeOnly": True, "title": "LWA refresh token"},
        "product_type": {"type": "string", "minLength": 1, "default": "PRODUCT"},
        "feed_threshold": {
            "type": "integer",
            "minimum": 1,
            "default": 20,
            "description": "Batches larger than this go through the Feeds API instead of one PATCH per SKU.",
        },
        "feed_poll_seconds": {"type": "number", "minimum": 0, "default": 30},
        "feed_max_polls": {"type": "integer", "minimum": 1, "default": 60},
        "orders_since": {
            "type": "string",
            "default": "2020-01-01T00:00:00Z",
            "description": "Where a full read of orders starts (LastUpdatedAfter).",
        },
        "page_size": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
    },
}


class MarketplaceTemplate(ConnectorTemplate):
    key = "marketplace"
    name = "Marketplace (Amazon SP-API)"
    kind = Kind.MARKETPLACE
    reads = frozenset({Domain.ORDERS, Domain.ITEMS, Domain.PRICES})
    writes = frozenset({Domain.PRICES, Domain.INVENTORY})
    config_schema = CONFIG_SCHEMA
    auth: ClassVar[tuple[AuthKind, ...]] = ("oauth2_authorization_code",)
    # SP-API's listings plan (5 requests/s, burst 10) is the tightest we call per record.
    rate_limit = RateLimit(rate=5, burst=10)
    batch_size = 1000

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        s = self.settings
        self._tokens = LwaTokens(
            context,
            LwaCredentials(s["token_url"], s["client_id"], s["client_secret"], s["refresh_token"]),
        )
        self._http = ConnectorHttp(context, base_url=s["base_url"], auth=SpApiAuth(self._tokens))
        self._listings = Listings(
            self._http,
            seller_id=s["seller_id"],
            marketplace_id=s["marketplace_id"],
            product_type=s["product_type"],
            page_size=min(s["page_size"], 20),
        )
        self._feed = ListingsFeed(
            self._http,
            context,
            FeedSettings(
                seller_id=s["seller_id"],
                marketplace_id=s["marketplace_id"],
                product_type=s["product_type"],
                poll_seconds=s["feed_poll_seconds"],
                max_polls=s["feed_max_polls"],
            ),
        )
        self._orders = Orders(
            self._http, marketplace_id=s["marketplace_id"], since=s["orders_since"], page_size=s["page_size"]
        )

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._tokens.aclose()

    async def test_connection(self) -> ConnectionCheck:
        body = await self._http.json("GET", "/sellers/v1/marketplaceParticipations")
        marketplace = self.settings["marketplace_id"]
        joined = {
            str((entry.get("marketplace") or {}).get("id"))
            for entry in body.get("payload", [])
            if (entry.get("participation") or {}).get("isParticipating")
        }
        if marketplace not in joined:
            listed = ", ".join(sorted(joined)) or "none"
            return ConnectionCheck(
                ok=False, detail=f"seller does not sell on marketplace {marketplace} (sells on: {listed})"
            )
        return ConnectionCheck(ok=True, detail=f"seller {self.settings['seller_id']} on {marketplace}")

    async def read(self, domain: Domain, cursor: str | None = None) -> AsyncIterator[ReadPage]:
        self.check_domain(domain, writing=False)
        pages = self._orders.pages(cursor) if domain is Domain.ORDERS else self._listings.pages(cursor)
        async for page in pages:
            yield page

    async def write(self, domain: Domain, payloads: Sequence[Mapping[str, Any]]) -> list[WriteResult]:
        self.check_domain(domain, writing=True)
        results: dict[int, WriteResult] = {}
        valid: list[tuple[int, ListingPatch]] = []
        for index, payload in enumerate(payloads):
            try:
                valid.append((index, listing_patch(domain, payload, self.settings["marketplace_id"])))
            except PayloadError as error:
                sku = payload.get("sku") if isinstance(payload, Mapping) else None
                results[index] = WriteResult.failed(index, str(error), sku if isinstance(sku, str) else None)
        if valid:
            if len(valid) > self.settings["feed_threshold"]:
                sent = await self._feed.submit(valid)
            else:
                sent = await self._listings.patch_each(valid)
            results.update({result.index: result for result in sent})
        return [results[index] for index in range(len(payloads))]
