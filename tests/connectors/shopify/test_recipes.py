"""The Shopify template's default recipes: their own cases pass, and they map what the template really
reads from the sandbox into canonical records, and canonical records into payloads it really writes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connectors.canonical import Order, Price, StockBalance, parse_record
from connectors.recipes.compiler import compile_recipe
from connectors.recipes.defaults import default_recipe
from connectors.recipes.inputs import record_input
from connectors.sdk.domains import Domain
from connectors.templates.shopify.template import ShopifyTemplate
from tests.connectors.shopify.conftest import Sandbox, catalogue, make_template


def recipe(domain: Domain, direction: str) -> Any:
    spec = default_recipe("shopify", domain.value, direction)
    assert spec is not None, f"no {domain.value}.{direction} recipe"
    return compile_recipe(spec)


async def read_records(template: ShopifyTemplate, domain: Domain) -> list[dict[str, Any]]:
    return [record async for page in template.read(domain) for record in page.records]


class TestInboundOnRealReads:
    async def test_prices_and_stock(self, sandbox: Sandbox) -> None:
        await sandbox.seed(products=catalogue(4))
        async with make_template(sandbox) as template:
            prices = [
                recipe(Domain.PRICES, "inbound").map_record(r)
                for r in await read_records(template, Domain.PRICES)
            ]
            stock = [
                recipe(Domain.INVENTORY, "inbound").map_record(r)
                for r in await read_records(template, Domain.INVENTORY)
            ]
        assert all(isinstance(p, Price) for p in prices)
        assert [(p.sku, p.amount, p.currency) for p in prices if isinstance(p, Price)][1] == (
            "SKU-001",
            Decimal("11.50"),
            "EUR",
        )
        assert all(isinstance(s, StockBalance) for s in stock)
        assert len(stock) == 8

    async def test_orders(self, sandbox: Sandbox) -> None:
        lines = [{"sku": "SKU-001", "quantity": 2, "price": "10.00", "discount": "1.00"}]
        await sandbox.seed(orders=[{"name": "#1", "email": "a@example.com", "lines": lines}])
        async with make_template(sandbox) as template:
            (read,) = await read_records(template, Domain.ORDERS)
        order = recipe(Domain.ORDERS, "inbound").map_record(read)
        assert isinstance(order, Order)
        assert (order.order_id, order.status, order.total) == ("#1", "confirmed", Decimal("19.00"))


class TestOutboundWrites:
    async def test_canonical_price_is_written(self, sandbox: Sandbox) -> None:
        await sandbox.seed(products=catalogue(2))
        price = parse_record("price", {"sku": "SKU-001", "amount": "7.25", "currency": "EUR"})
        payload = recipe(Domain.PRICES, "outbound").map(record_input(price))
        assert payload is not None
        async with make_template(sandbox) as template:
            (result,) = await template.write(Domain.PRICES, [payload])
            assert result.status == "ok", result.error
            prices = {r["sku"]: r["price"] for r in await read_records(template, Domain.PRICES)}
        assert prices["SKU-001"] == "7.25"

    async def test_canonical_promotion_is_created(self, sandbox: Sandbox) -> None:
        await sandbox.seed(products=catalogue(2))
        promotion = parse_record(
            "promotion",
            {
                "code": "SPRING",
                "name": "Spring",
                "rule": {"type": "percent_off", "percent": "20"},
                "window": {"starts_at": "2025-03-01T00:00:00Z", "ends_at": "2025-04-01T00:00:00Z"},
                "eligibility": {"skus": ["SKU-000"]},
            },
        )
        payload = recipe(Domain.PROMOTIONS, "outbound").map(record_input(promotion))
        assert payload is not None
        async with make_template(sandbox) as template:
            (result,) = await template.write(Domain.PROMOTIONS, [payload])
        assert result.status == "ok", result.error
        assert (result.destination_id or "").startswith("gid://shopify/DiscountAutomaticNode/")
