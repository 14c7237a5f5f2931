"""The source payloads the Vendure template yields per domain, shaped from Admin API answers.

Amounts stay as Vendure sends them (integers in minor units); the inbound recipes convert them.
"""

from __future__ import annotations

from typing import Any


def item_record(variant: dict[str, Any]) -> dict[str, Any]:
    """A product variant as it comes, since an item is one sellable variant."""
    return dict(variant)


def price_records(variant: dict[str, Any]) -> list[dict[str, Any]]:
    """One record per currency the variant is priced in (a channel may sell in several)."""
    prices = variant.get("prices") or [{"currencyCode": variant["currencyCode"], "price": variant["price"]}]
    return [
        {
            "id": variant["id"],
            "sku": variant["sku"],
            "price": entry["price"],
            "currencyCode": entry["currencyCode"],
            "priceWithTax": variant.get("priceWithTax")
            if entry["currencyCode"] == variant.get("currencyCode")
            else None,
            "updatedAt": variant["updatedAt"],
        }
        for entry in prices
    ]


def stock_records(variant: dict[str, Any]) -> list[dict[str, Any]]:
    """One record per stock location holding the variant."""
    return [
        {
            "variantId": variant["id"],
            "sku": variant["sku"],
            "stockLocationId": level["stockLocationId"],
            "stockLocation": (level.get("stockLocation") or {}).get("name"),
            "stockOnHand": level["stockOnHand"],
            "stockAllocated": level["stockAllocated"],
            "updatedAt": variant["updatedAt"],
        }
        for level in variant.get("stockLevels") or []
    ]


def order_record(order: dict[str, Any]) -> dict[str, Any]:
    """The order with its currency repeated on each line, so a recipe can convert line amounts alone."""
    lines = [
        {**line, "sku": (line.get("productVariant") or {}).get("sku"), "currencyCode": order["currencyCode"]}
        for line in order.get("lines") or []
    ]
    return {**order, "lines": lines}
