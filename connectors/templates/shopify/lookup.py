"""Finding Shopify variants by SKU, since our payloads name SKUs and Shopify's mutations take global IDs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from connectors.templates.shopify import operations
from connectors.templates.shopify.client import ShopifyGraphql

SKUS_PER_QUERY = 50
"""Shopify caps a search query's length; 50 ``sku:'…'`` terms stay well inside it."""


@dataclass(frozen=True, slots=True)
class VariantRef:
    variant_id: str
    product_id: str
    inventory_item_id: str


def search_value(value: str) -> str:
    """``value`` quoted for Shopify's search syntax (backslash-escaped quotes and backslashes)."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


async def variants_by_sku(client: ShopifyGraphql, skus: Iterable[str]) -> dict[str, list[VariantRef]]:
    """Every variant carrying each SKU (a SKU missing from the result is unknown to the shop)."""
    wanted = sorted(set(skus))
    found: dict[str, list[VariantRef]] = {}
    for start in range(0, len(wanted), SKUS_PER_QUERY):
        chunk = wanted[start : start + SKUS_PER_QUERY]
        query = " OR ".join(f"sku:{search_value(s)}" for s in chunk)
        # Search matches are not exact in Shopify (prefixes, tokens): keep only exact SKU equality.
        # Ask for room for twice the SKUs (duplicates still show), not 250: the requested cost, which
        # the bucket must hold before the query runs, grows with ``first``.
        first = min(250, 2 * len(chunk))
        data = await client.execute(operations.VARIANTS_BY_SKU, {"first": first, "query": query})
        for node in data["productVariants"]["nodes"]:
            sku = node.get("sku")
            if sku in chunk:
                ref = VariantRef(node["id"], node["product"]["id"], node["inventoryItem"]["id"])
                found.setdefault(sku, []).append(ref)
    return found
