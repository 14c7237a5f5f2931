"""Marketplace tests: the SP-API sandbox on a loopback port, and templates pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from connectors.sandboxes.marketplace import create_app
from connectors.sdk.context import ConnectorContext
from connectors.sdk.network import NetworkPolicy
from connectors.sdk.tokens import LocalTokenStore
from connectors.templates.marketplace.template import MarketplaceTemplate
from tests.connectors.recording import RecordingClock
from tests.connectors.serving import serve

MARKETPLACE_ID = "A1PA6795UKMFR9"


@dataclass
class Sandbox:
    url: str
    clock: RecordingClock
    store: LocalTokenStore = field(default_factory=LocalTokenStore)

    def template(self, *, max_attempts: int = 3, **config: Any) -> MarketplaceTemplate:
        settings = {
            "base_url": self.url,
            "token_url": f"{self.url}/auth/o2/token",
            "seller_id": "SANDBOXSELLER",
            "marketplace_id": MARKETPLACE_ID,
            "client_id": "sandbox-client",
            "feed_poll_seconds": 5,
            "page_size": 2,
            **config,
        }
        secrets = {
            "client_secret": settings.pop("client_secret", "sandbox-secret"),
            "refresh_token": settings.pop("refresh_token", "sandbox-refresh"),
        }
        context = ConnectorContext(
            config=settings,
            secrets=secrets,
            key="marketplace-test",
            network=NetworkPolicy.permissive(),
            token_store=self.store,
            sleep=self.clock.sleep,
            max_attempts=max_attempts,
        )
        return MarketplaceTemplate(context)

    async def control(self, method: str, path: str, body: Any = None) -> Any:
        async with httpx.AsyncClient(base_url=self.url) as client:
            response = await client.request(method, path, json=body)
            response.raise_for_status()
            return response.json() if response.content else None

    async def fault(self, **spec: Any) -> None:
        await self.control("POST", "/_sandbox/faults", spec)


SandboxFactory = Callable[..., AbstractAsyncContextManager[Sandbox]]


@pytest.fixture
def marketplace() -> SandboxFactory:
    """``async with marketplace(**sandbox_options) as sandbox``."""

    @asynccontextmanager
    async def start(**options: Any) -> AsyncIterator[Sandbox]:
        clock = RecordingClock()
        async with serve(create_app(clock=clock.monotonic, **options)) as url:
            yield Sandbox(url, clock)

    return start


def order(number: int, updated: str, *, sku: str = "SKU-1", quantity: int = 2) -> dict[str, Any]:
    return {
        "AmazonOrderId": f"302-000000{number}-0000000",
        "PurchaseDate": "2024-05-01T10:00:00Z",
        "LastUpdateDate": updated,
        "OrderStatus": "Unshipped",
        "FulfillmentChannel": "MFN",
        "MarketplaceId": MARKETPLACE_ID,
        "OrderTotal": {"CurrencyCode": "EUR", "Amount": "39.98"},
        "BuyerInfo": {"BuyerEmail": f"buyer{number}@marketplace.example"},
        "OrderItems": [
            {
                "ASIN": "B000000001",
                "SellerSKU": sku,
                "OrderItemId": f"item-{number}",
                "QuantityOrdered": quantity,
                "ItemPrice": {"CurrencyCode": "EUR", "Amount": "39.98"},
                "ItemTax": {"CurrencyCode": "EUR", "Amount": "6.38"},
            }
        ],
    }


def listing(sku: str, updated: str = "2024-05-01T10:00:00Z") -> dict[str, Any]:
    return {
        "sku": sku,
        "asin": f"B0{sku[-1]}0000000",
        "itemName": f"Item {sku}",
        "productType": "PRODUCT",
        "lastUpdatedDate": updated,
        "price": {"currency": "EUR", "amount": "10.00"},
        "quantity": 1,
    }
