"""The marketplace template's default recipes pass their own test cases."""

from __future__ import annotations

from connectors.canonical import parse_record
from connectors.recipes import compile_recipe, record_input
from connectors.recipes.defaults import TEMPLATES_DIR, load_recipe_file
from connectors.sdk.domains import Domain
from tests.connectors.marketplace.conftest import SandboxFactory, listing


class TestRecipeOutputIsWritable:
    async def test_canonical_stock_reaches_the_listing(self, marketplace: SandboxFactory) -> None:
        path = TEMPLATES_DIR / "marketplace" / "recipes" / "inventory.outbound.yaml"
        recipe = compile_recipe(load_recipe_file(path))
        balance = {"sku": "SKU-1", "location": "WH1", "on_hand": 9, "reserved": 2}
        payload = recipe.map(record_input(parse_record("stock_balance", balance)))
        assert payload is not None
        async with marketplace() as sandbox, sandbox.template() as template:
            await sandbox.control("POST", "/_sandbox/marketplace/listings", [listing("SKU-1")])
            results = await template.write(Domain.INVENTORY, [payload])
            stored = await sandbox.control("GET", "/_sandbox/marketplace/listings")
        assert results[0].status == "ok"
        assert stored[0]["quantity"] == 7
