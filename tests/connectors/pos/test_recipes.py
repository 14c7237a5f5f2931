"""The pos template's default recipes pass their own test cases."""

from __future__ import annotations

from connectors.canonical import parse_record
from connectors.recipes import compile_recipe, record_input
from connectors.recipes.defaults import TEMPLATES_DIR, load_recipe_file
from connectors.sdk.domains import Domain
from tests.connectors.pos.conftest import SandboxFactory, seed_items


class TestRecipeOutputIsWritable:
    async def test_canonical_prices_reach_the_catalog(self, pos: SandboxFactory) -> None:
        recipe = compile_recipe(load_recipe_file(TEMPLATES_DIR / "pos" / "recipes" / "prices.outbound.yaml"))
        price = record_input(parse_record("price", {"sku": "SKU-1", "amount": "12.34", "currency": "USD"}))
        payload = recipe.map(price)
        assert payload is not None
        async with pos() as sandbox, sandbox.template() as template:
            await sandbox.control("POST", "/_sandbox/pos/seed", {"items": seed_items(1)})
            results = await template.write(Domain.PRICES, [payload])
            variations = await sandbox.variations()
        assert results[0].status == "ok"
        assert variations["SKU-1"]["price_money"] == {"amount": 1234, "currency": "USD"}
