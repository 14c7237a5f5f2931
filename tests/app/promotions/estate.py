"""A retailer's estate for promotion tests and ``bench/promotion.py``: SKUs with prices and stock, a
store-file drop for its stores, a Shopify shop and a marketplace (sandboxes on loopback ports), and one
price flow to all three — all set up through the API, as a retailer would."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from app.database.engine import Database
from app.promotions.deploy import Runtime
from app.promotions.jobs import sweep
from app.promotions.orchestrator import advance
from connectors.recipes import default_recipe
from connectors.sandboxes import marketplace, shopify
from connectors.templates.flatfile.destinations import RemoteFile
from connectors.templates.flatfile.naming import file_key, group_of, order_of
from tests.connectors.serving import serve

SCOPES = [
    "promotions:read",
    "promotions:write",
    "events:write",
    "connections:write",
    "recipes:write",
    "flows:write",
]
SHOP_TOKEN = "shpat_promotions"
MARKETPLACE_ID = "A1PA6795UKMFR9"
CHUNK = 5000


def sku_of(number: int) -> str:
    return f"SKU-{number:05d}"


def regular_price(number: int) -> Decimal:
    return Decimal(10 + number % 40) + Decimal("0.90")


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class Sandboxes:
    shop_url: str
    shop: Any
    market_url: str

    def shop_prices(self) -> dict[str, Decimal]:
        return {v.sku: v.price for v in self.shop.variants.values()}

    async def market_prices(self) -> dict[str, Decimal]:
        async with httpx.AsyncClient(base_url=self.market_url) as client:
            rows = (await client.get("/_sandbox/marketplace/listings")).json()
        return {row["sku"]: Decimal(row["price"]["amount"]) for row in rows if row.get("price")}

    async def fault(self, url: str, **spec: Any) -> None:
        async with httpx.AsyncClient(base_url=url) as client:
            (await client.post("/_sandbox/faults", json=spec)).raise_for_status()

    async def clear_faults(self, url: str) -> None:
        async with httpx.AsyncClient(base_url=url) as client:
            (await client.delete("/_sandbox/faults")).raise_for_status()


@asynccontextmanager
async def sandboxes(*, shopify_plus: bool = False) -> AsyncIterator[Sandboxes]:
    """Shopify and the marketplace (SP-API's published rate limits). ``shopify_plus``: the shop's query
    cost restores at Shopify Plus's published 1,000 points a second instead of 100 (the bucket stays
    at 2,000 points, the sandbox's default)."""
    shop_app = shopify.create_app(access_token=SHOP_TOKEN, restore_rate=1000.0 if shopify_plus else 100.0)
    market_app = marketplace.create_app(page_size=20, feed_polls_until_done=1)
    async with serve(shop_app) as shop_url, serve(market_app) as market_url:
        yield Sandboxes(shop_url, shop_app.state.shop, market_url)


def store_prices(folder: Path) -> dict[tuple[str, str], Decimal]:
    """(sku, store) → price from the newest file of each store in the drop's outbound folder."""

    def written(path: Path) -> tuple[str, int, str]:
        return order_of(file_key(RemoteFile(path.name, datetime.fromtimestamp(path.stat().st_mtime, UTC))))

    newest: dict[str, Path] = {}
    for path in (folder / "outbound").glob("prices_*.csv"):
        store = group_of(path.name)
        if store not in newest or written(path) > written(newest[store]):
            newest[store] = path
    found: dict[tuple[str, str], Decimal] = {}
    for path in newest.values():
        for row in csv.DictReader(io.StringIO(path.read_text())):
            found[(row["sku"], row["store"])] = Decimal(row["price"])
    return found


@dataclass
class Estate:
    client: httpx.AsyncClient
    proposer: str
    approver: str
    sandboxes: Sandboxes
    folder: Path
    skus: int
    stores: list[str]
    destinations: dict[str, str]
    """Connection name → flow destination id."""

    async def call(self, method: str, path: str, key: str | None = None, **body: Any) -> Any:
        return await self.client.request(
            method,
            f"/api/v1{path}",
            json=body if method != "GET" else None,
            headers=bearer(key or self.proposer),
        )

    async def promote(
        self, starts_at: datetime, *, days: int = 7, percent: str = "20", **extra: Any
    ) -> dict[str, Any]:
        """Propose (one key), validate, approve (the other key) and activate a percent-off promotion on
        every SKU; the answer to ``/activate``."""
        spec = {
            "code": extra.pop("code", "WINTER-20"),
            "name": "Winter sale",
            "rule": {"type": "percent_off", "percent": percent},
            "window": {
                "starts_at": starts_at.isoformat(),
                "ends_at": (starts_at + timedelta(days=days)).isoformat(),
            },
            "eligibility": {"skus": [sku_of(n) for n in range(self.skus)]},
        }
        proposed = await self.call("POST", "/promotions", promotion=spec, **extra)
        assert proposed.status_code == 201, proposed.text
        promotion_id = proposed.json()["id"]
        validated = await self.call("POST", f"/promotions/{promotion_id}/validate")
        assert validated.status_code == 200, validated.text
        approved = await self.call("POST", f"/promotions/{promotion_id}/approve", self.approver)
        assert approved.status_code == 200, approved.text
        activated = await self.call("POST", f"/promotions/{promotion_id}/activate")
        assert activated.status_code == 200, activated.text
        body: dict[str, Any] = activated.json()
        return body

    async def deployments(self, promotion_id: str) -> dict[str, dict[str, Any]]:
        response = await self.call("GET", f"/promotions/{promotion_id}/deployments")
        assert response.status_code == 200, response.text
        return {row["connection"]: row for row in response.json()}

    def promoted(self, number: int, percent: str = "20") -> Decimal:
        return (regular_price(number) * (100 - Decimal(percent)) / 100).quantize(Decimal("0.01"))

    async def prices_everywhere(self) -> dict[str, dict[Any, Decimal]]:
        return {
            "store files": store_prices(self.folder),
            "web shop": self.sandboxes.shop_prices(),
            "marketplace": await self.sandboxes.market_prices(),
        }


async def tick(runtime: Runtime, db: Database, now: datetime, clock_now: Any) -> list[str]:
    """What the worker does each second: the sweep, then a pass over each promotion with work."""
    return [await advance(runtime, promotion_id, clock_now) for promotion_id in await sweep(db, now)]


async def build_estate(
    client: httpx.AsyncClient,
    proposer: str,
    approver: str,
    boxes: Sandboxes,
    folder: Path,
    *,
    skus: int,
    stores: int,
) -> Estate:
    store_codes = [f"S{n:04d}" for n in range(1, stores + 1)]
    numbers = range(skus)
    streams: dict[str, list[dict[str, Any]]] = {
        "items": [
            {"sku": sku_of(n), "title": f"Item {n}", "unit_cost": {"amount": "2.00", "currency": "EUR"}}
            for n in numbers
        ],
        "prices": [{"sku": sku_of(n), "amount": str(regular_price(n)), "currency": "EUR"} for n in numbers],
        "inventory": [{"sku": sku_of(n), "location": "WH1", "on_hand": 500} for n in numbers],
    }
    for stream, rows in streams.items():
        for start in range(0, len(rows), CHUNK):
            response = await client.post(
                f"/api/v1/events/{stream}",
                json={"items": rows[start : start + CHUNK]},
                headers=bearer(proposer),
            )
            assert response.status_code == 202, response.text
            assert response.json()["rejected"] == 0, response.text
    await _seed_sandboxes(boxes, skus)
    connections = {
        "store files": ("flatfile", {"transport": "folder", "path": folder.name}),
        "web shop": ("shopify", {"shop_url": boxes.shop_url, "access_token": SHOP_TOKEN}),
        "marketplace": (
            "marketplace",
            {
                "base_url": boxes.market_url,
                "token_url": f"{boxes.market_url}/auth/o2/token",
                "seller_id": "SANDBOXSELLER",
                "marketplace_id": MARKETPLACE_ID,
                "client_id": "sandbox-client",
                "client_secret": "sandbox-secret",
                "refresh_token": "sandbox-refresh",
                "feed_poll_seconds": 0.05,
                "page_size": 20,
            },
        ),
    }
    destinations = []
    for name, (template, config) in connections.items():
        made = await client.post(
            "/api/v1/connections",
            json={"name": name, "template": template, "config": config},
            headers=bearer(proposer),
        )
        assert made.status_code == 201, made.text
        recipe = await client.post(
            "/api/v1/recipes",
            json={
                "name": f"{name} prices",
                "domain": "prices",
                "spec": default_recipe(template, "prices", "outbound"),
            },
            headers=bearer(proposer),
        )
        assert recipe.status_code == 201, recipe.text
        destination: dict[str, Any] = {
            "connection_id": made.json()["id"],
            "recipe_id": recipe.json()["recipe"]["id"],
        }
        if template == "flatfile":
            destination["allocation"] = {"locations": store_codes}
        destinations.append(destination)
    flow = await client.post(
        "/api/v1/flows",
        json={"name": "prices everywhere", "domain": "prices", "destinations": destinations},
        headers=bearer(proposer),
    )
    assert flow.status_code == 201, flow.text
    names = list(connections)
    by_name = {names[i]: row["id"] for i, row in enumerate(flow.json()["destinations"])}
    return Estate(client, proposer, approver, boxes, folder, skus, store_codes, by_name)


async def _seed_sandboxes(boxes: Sandboxes, skus: int) -> None:
    """The channels already sell every SKU at its regular price (100 variants per Shopify product)."""
    products = [
        {
            "title": f"Range {start // 100}",
            "variants": [
                {"sku": sku_of(n), "price": str(regular_price(n))}
                for n in range(start, min(start + 100, skus))
            ],
        }
        for start in range(0, skus, 100)
    ]
    async with httpx.AsyncClient(base_url=boxes.shop_url) as client:
        (await client.post("/_sandbox/shopify/seed", json={"products": products})).raise_for_status()
    listings = [
        {"sku": sku_of(n), "price": {"amount": str(regular_price(n)), "currency": "EUR"}} for n in range(skus)
    ]
    async with httpx.AsyncClient(base_url=boxes.market_url) as client:
        (await client.post("/_sandbox/marketplace/listings", json=listings)).raise_for_status()
