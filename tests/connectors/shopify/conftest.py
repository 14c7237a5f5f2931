"""Fixtures for the Shopify connector: a sandbox on a loopback port, a controllable clock, seeded shop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from connectors.sandboxes.shopify import create_app
from connectors.sdk.context import ConnectorContext
from connectors.sdk.network import NetworkPolicy
from connectors.templates.shopify.template import ShopifyTemplate
from tests.connectors.serving import serve

TOKEN = "shpat_test_token"
WEBHOOK_SECRET = "whsec-shop"
START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC).timestamp()


@dataclass
class Clock:
    """One clock for the sandbox's bucket and timestamps and the connector's waits: sleeping moves it."""

    t: float = START
    sleeps: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.t

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.t, UTC)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


@dataclass
class Sandbox:
    url: str
    app: Any
    clock: Clock

    async def control(self, path: str, body: Any = None) -> Any:
        async with httpx.AsyncClient(base_url=self.url) as client:
            response = await client.post(path, json=body)
            response.raise_for_status()
            return response.json() if response.content else None

    async def seed(self, **body: Any) -> Any:
        return await self.control("/_sandbox/shopify/seed", body)

    async def fault(self, **spec: Any) -> None:
        await self.control("/_sandbox/faults", spec)

    async def graphql(self, query: str, variables: dict[str, Any] | None = None, token: str = TOKEN) -> Any:
        """Ask the sandbox directly, to read back what the connector wrote."""
        async with httpx.AsyncClient(base_url=self.url) as client:
            response = await client.post(
                "/admin/api/2026-10/graphql.json",
                json={"query": query, "variables": variables or {}},
                headers={"X-Shopify-Access-Token": token},
            )
        return response.json()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def sandbox(clock: Clock) -> AsyncIterator[Sandbox]:
    app = create_app(access_token=TOKEN, clock=clock.monotonic, now=clock.now)
    async with serve(app) as url:
        yield Sandbox(url, app, clock)


def make_template(
    sandbox: Sandbox, *, token: str = TOKEN, webhook_secret: str = WEBHOOK_SECRET, **config: Any
) -> ShopifyTemplate:
    context = ConnectorContext(
        config={"shop_url": sandbox.url, **config},
        secrets={"access_token": token, "webhook_secret": webhook_secret},
        network=NetworkPolicy.permissive(),
        sleep=sandbox.clock.sleep,
        now=sandbox.clock.now,
        max_attempts=3,
    )
    return ShopifyTemplate(context)


def catalogue(count: int = 12) -> list[dict[str, Any]]:
    """``count`` variants over products of two variants each, updated on consecutive days of 2024."""
    products = []
    for p in range(0, count, 2):
        variants = [
            {
                "sku": f"SKU-{n:03d}",
                "title": f"Size {n % 2}",
                "price": f"{10 + n}.50",
                "updated_at": f"2024-01-{n + 1:02d}T09:00:00Z",
                "stock": {"Main warehouse": n, "High street store": 1},
            }
            for n in range(p, min(p + 2, count))
        ]
        products.append(
            {"title": f"Shirt {p // 2}", "updated_at": "2024-01-01T00:00:00Z", "variants": variants}
        )
    return products
