"""A price and a stock change made in Shelfsync's canonical model reach the real Tryton through the
default recipes, and are read back over JSON-RPC."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connectors.canonical import Price, StockBalance
from connectors.delivery import deliver_batch
from connectors.recipes import CompiledRecipe, compile_recipe, default_recipe
from connectors.sdk.domains import Domain
from tests.connectors.tryton.conftest import Catalog, RawTryton, create_product, quantity_of


def outbound(domain: str) -> CompiledRecipe:
    spec = default_recipe("tryton", domain, "outbound")
    assert spec is not None
    return compile_recipe(spec)


class TestDeliveryThroughDefaultRecipes:
    async def test_price_change_reaches_tryton(
        self, make_template: Any, raw: RawTryton, catalog: Catalog
    ) -> None:
        code = catalog.new_code()
        await create_product(raw, code, price="10.00")
        prices = [
            Price(sku=code, amount=Decimal("27.40"), currency="EUR"),
            Price(sku=code, amount=Decimal("25.00"), currency="EUR", channel="web"),
            Price(sku="NOT-IN-TRYTON", amount=Decimal("1.00"), currency="EUR"),
        ]
        async with make_template() as template:
            results = await deliver_batch(template, Domain.PRICES, prices, outbound("prices"))
        assert [r.status for r in results] == ["ok", "skipped", "failed"]
        rows = await raw.model(
            "product.product", "search_read", [["code", "=", code]], 0, 1, None, ["template.list_price"]
        )
        assert Decimal(rows[0]["template."]["list_price"]["decimal"]) == Decimal("27.40")

    async def test_stock_change_reaches_tryton(
        self, make_template: Any, raw: RawTryton, catalog: Catalog
    ) -> None:
        code = catalog.new_code()
        await create_product(raw, code)
        async with make_template() as template:
            results = await deliver_batch(
                template,
                Domain.INVENTORY,
                [StockBalance(sku=code, location="WH", on_hand=17)],
                outbound("inventory"),
            )
        assert [r.status for r in results] == ["ok"]
        assert await quantity_of(raw, code) == 17.0
