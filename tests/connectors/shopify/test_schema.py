"""Every GraphQL document the Shopify connector sends is valid against Shopify's real Admin schema."""

from __future__ import annotations

import pytest
from graphql import GraphQLSchema, parse, validate

from connectors.peers.shopify_schema import admin_schema, api_version, shipped_versions
from connectors.templates.shopify import operations

DOCUMENTS = {
    name: value
    for name, value in vars(operations).items()
    if name.isupper() and isinstance(value, str) and ("query " in value or "mutation " in value)
}


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return admin_schema()


def problems(schema: GraphQLSchema, document: str) -> list[str]:
    return [error.message for error in validate(schema, parse(document))]


class TestPinnedSchema:
    def test_version_is_the_newest_shipped(self) -> None:
        assert operations.API_VERSION == api_version() == shipped_versions()[-1]

    def test_every_document_is_listed(self) -> None:
        assert set(DOCUMENTS) == set(operations.ALL)
        assert len(DOCUMENTS) >= 10


class TestOperations:
    @pytest.mark.parametrize("name", sorted(DOCUMENTS))
    def test_validates(self, schema: GraphQLSchema, name: str) -> None:
        assert problems(schema, DOCUMENTS[name]) == []


class TestOutdatedOperations:
    """The schema check has teeth: what older Shopify clients sent no longer validates."""

    def test_product_variant_update_is_gone(self, schema: GraphQLSchema) -> None:
        old = 'mutation { productVariantUpdate(input: {id: "gid://shopify/ProductVariant/1", price: "1.00"}) '
        old += "{ productVariant { id } userErrors { field message } } }"
        found = problems(schema, old)
        assert any("productVariantUpdate" in message for message in found)

    def test_ignore_compare_quantity_is_gone(self, schema: GraphQLSchema) -> None:
        old = """mutation { inventorySetQuantities(input: {name: "available", reason: "correction",
          ignoreCompareQuantity: true,
          quantities: [{inventoryItemId: "gid://shopify/InventoryItem/1", locationId: "gid://shopify/Location/1",
                        quantity: 1}]}) { userErrors { message } } }"""
        assert any("ignoreCompareQuantity" in message for message in problems(schema, old))

    def test_unknown_field_in_a_selection(self, schema: GraphQLSchema) -> None:
        assert problems(schema, "query { shop { name priceListCurrency } }")
