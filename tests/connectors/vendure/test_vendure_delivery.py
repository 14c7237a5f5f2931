"""A price and a stock change made in Shelfsync's canonical model reach the real Vendure through the
default recipes, and are read back from its Admin API."""

from __future__ import annotations

from decimal import Decimal

from connectors.canonical import Price, StockBalance
from connectors.delivery import deliver_batch
from connectors.recipes import CompiledRecipe, compile_recipe, default_recipe
from connectors.sdk.domains import Domain
from tests.connectors.vendure.conftest import CURRENCY, SKUS, SeededVendure, TemplateFactory


def outbound(domain: str) -> CompiledRecipe:
    spec = default_recipe("vendure", domain, "outbound")
    assert spec is not None
    return compile_recipe(spec)


class TestDeliveryThroughDefaultRecipes:
    async def test_price_change_reaches_vendure(
        self, vendure: SeededVendure, make_template: TemplateFactory
    ) -> None:
        prices = [
            Price(sku=SKUS[9], amount=Decimal("31.75"), currency=CURRENCY),
            Price(sku=SKUS[10], amount=Decimal("9.99"), currency=CURRENCY, price_list="outlet"),
            Price(sku="NOT-IN-VENDURE", amount=Decimal("1.00"), currency=CURRENCY),
        ]
        async with make_template() as template:
            results = await deliver_batch(template, Domain.PRICES, prices, outbound("prices"))
        assert [r.status for r in results] == ["ok", "skipped", "failed"]
        assert (await vendure.admin.variant(SKUS[9]))["price"] == 3175
        assert (await vendure.admin.variant(SKUS[10]))["price"] != 999

    async def test_stock_change_reaches_vendure(
        self, vendure: SeededVendure, make_template: TemplateFactory
    ) -> None:
        balance = StockBalance(sku=SKUS[11], location="WH1", on_hand=30, reserved=4, safety_stock=2)
        async with make_template() as template:
            results = await deliver_batch(template, Domain.INVENTORY, [balance], outbound("inventory"))
        assert [r.status for r in results] == ["ok"]
        assert (await vendure.admin.variant(SKUS[11]))["stockOnHand"] == 24
