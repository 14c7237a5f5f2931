"""Every GraphQL document the Shopify connector sends, as constants, so a test validates each one against
Shopify's real Admin schema (``tests/connectors/shopify/test_schema.py``).
"""

from __future__ import annotations

API_VERSION = "2026-10"
"""The Admin API version these documents are validated against (the pinned schema's newest)."""

SHOP = """
query Shop {
  shop { name currencyCode myshopifyDomain }
}
"""

VARIANT_FIELDS = """
  id sku title barcode price compareAtPrice updatedAt
  product { id title }
  inventoryItem { id }
"""

VARIANTS = (
    """
query Variants($first: Int!, $after: String, $query: String) {
  productVariants(first: $first, after: $after, query: $query) {
    nodes {"""
    + VARIANT_FIELDS
    + """}
    pageInfo { hasNextPage endCursor }
  }
}
"""
)

INVENTORY_LEVELS = """
query InventoryLevels($first: Int!, $after: String, $query: String, $levels: Int!) {
  productVariants(first: $first, after: $after, query: $query) {
    nodes {
      id sku updatedAt
      inventoryItem {
        id
        inventoryLevels(first: $levels) {
          nodes {
            location { id name }
            quantities(names: ["available", "on_hand"]) { name quantity }
            updatedAt
          }
        }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

VARIANTS_BY_SKU = """
query VariantsBySku($first: Int!, $query: String!) {
  productVariants(first: $first, query: $query) {
    nodes { id sku product { id } inventoryItem { id } }
  }
}
"""

ORDERS = """
query Orders($first: Int!, $after: String, $query: String, $lines: Int!) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    nodes {
      id name email createdAt updatedAt cancelledAt currencyCode
      displayFinancialStatus displayFulfillmentStatus
      totalPriceSet { shopMoney { amount currencyCode } }
      totalDiscountsSet { shopMoney { amount } }
      totalTaxSet { shopMoney { amount } }
      lineItems(first: $lines) {
        nodes {
          sku quantity
          originalUnitPriceSet { shopMoney { amount } }
          totalDiscountSet { shopMoney { amount } }
        }
        pageInfo { hasNextPage }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

UPDATE_PRICES = """
mutation UpdatePrices($productId: ID!, $variants: [ProductVariantsBulkInput!]!) {
  productVariantsBulkUpdate(productId: $productId, variants: $variants, allowPartialUpdates: true) {
    productVariants { id sku price compareAtPrice }
    userErrors { field message code }
  }
}
"""

SET_QUANTITIES = """
mutation SetQuantities($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) {
    inventoryAdjustmentGroup { reason changes { name delta quantityAfterChange } }
    userErrors { field message code }
  }
}
"""

CREATE_AUTOMATIC_DISCOUNT = """
mutation CreateAutomaticDiscount($discount: DiscountAutomaticBasicInput!) {
  discountAutomaticBasicCreate(automaticBasicDiscount: $discount) {
    automaticDiscountNode { id }
    userErrors { field message code }
  }
}
"""

CREATE_CODE_DISCOUNT = """
mutation CreateCodeDiscount($discount: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $discount) {
    codeDiscountNode { id }
    userErrors { field message code }
  }
}
"""

DEACTIVATE_AUTOMATIC_DISCOUNT = """
mutation DeactivateAutomaticDiscount($id: ID!) {
  discountAutomaticDeactivate(id: $id) {
    automaticDiscountNode {
      id
      automaticDiscount { ... on DiscountAutomaticBasic { status } }
    }
    userErrors { field message code }
  }
}
"""

DEACTIVATE_CODE_DISCOUNT = """
mutation DeactivateCodeDiscount($id: ID!) {
  discountCodeDeactivate(id: $id) {
    codeDiscountNode {
      id
      codeDiscount { ... on DiscountCodeBasic { status } }
    }
    userErrors { field message code }
  }
}
"""

ALL: dict[str, str] = {
    "SHOP": SHOP,
    "VARIANTS": VARIANTS,
    "INVENTORY_LEVELS": INVENTORY_LEVELS,
    "VARIANTS_BY_SKU": VARIANTS_BY_SKU,
    "ORDERS": ORDERS,
    "UPDATE_PRICES": UPDATE_PRICES,
    "SET_QUANTITIES": SET_QUANTITIES,
    "CREATE_AUTOMATIC_DISCOUNT": CREATE_AUTOMATIC_DISCOUNT,
    "CREATE_CODE_DISCOUNT": CREATE_CODE_DISCOUNT,
    "DEACTIVATE_AUTOMATIC_DISCOUNT": DEACTIVATE_AUTOMATIC_DISCOUNT,
    "DEACTIVATE_CODE_DISCOUNT": DEACTIVATE_CODE_DISCOUNT,
}
"""Every document above by name; the schema test walks this and the module's other constants."""
