"""The flat dicts ``read`` yields (and the default inbound recipes map), made from Admin GraphQL nodes.

Shapes (every amount a decimal string in the shop's currency, every time ISO 8601):
- items / prices: ``{id, sku, title, product_id, product_title, barcode, price, compare_at_price,
  currency, inventory_item_id, updated_at}``
- inventory: ``{sku, variant_id, inventory_item_id, location_id, location_name, available, on_hand,
  updated_at}``
- orders: ``{id, order_id, email, created_at, updated_at, cancelled_at, currency, financial_status,
  fulfillment_status, total, total_discounts, total_tax, lines: [{sku, quantity, unit_price, discount}],
  lines_complete}`` (false when the order has more lines than one read fetches)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _amount(money_bag: Any) -> str | None:
    """``shopMoney.amount`` of a MoneyBag, or None."""
    if not isinstance(money_bag, Mapping):
        return None
    shop_money = money_bag.get("shopMoney")
    return str(shop_money["amount"]) if isinstance(shop_money, Mapping) else None


def variant_record(node: Mapping[str, Any], currency: str) -> dict[str, Any]:
    product = node.get("product") or {}
    item = node.get("inventoryItem") or {}
    return {
        "id": node["id"],
        "sku": node.get("sku"),
        "title": node.get("title"),
        "product_id": product.get("id"),
        "product_title": product.get("title"),
        "barcode": node.get("barcode"),
        "price": node.get("price"),
        "compare_at_price": node.get("compareAtPrice"),
        "currency": currency,
        "inventory_item_id": item.get("id"),
        "updated_at": node.get("updatedAt"),
    }


def inventory_records(node: Mapping[str, Any], location_id: str | None) -> list[dict[str, Any]]:
    """One record per inventory level of the variant (only ``location_id``'s when given)."""
    item = node.get("inventoryItem") or {}
    records = []
    for level in (item.get("inventoryLevels") or {}).get("nodes", []):
        location = level.get("location") or {}
        if location_id and location.get("id") != location_id:
            continue
        quantities = {q["name"]: q["quantity"] for q in level.get("quantities", [])}
        records.append(
            {
                "sku": node.get("sku"),
                "variant_id": node["id"],
                "inventory_item_id": item.get("id"),
                "location_id": location.get("id"),
                "location_name": location.get("name"),
                "available": quantities.get("available", 0),
                "on_hand": quantities.get("on_hand", 0),
                "updated_at": level.get("updatedAt") or node.get("updatedAt"),
            }
        )
    return records


def order_record(node: Mapping[str, Any]) -> dict[str, Any]:
    lines = [
        {
            "sku": line.get("sku"),
            "quantity": line.get("quantity"),
            "unit_price": _amount(line.get("originalUnitPriceSet")),
            "discount": _amount(line.get("totalDiscountSet")) or "0",
        }
        for line in (node.get("lineItems") or {}).get("nodes", [])
    ]
    line_info = (node.get("lineItems") or {}).get("pageInfo") or {}
    return {
        "id": node["id"],
        "order_id": node.get("name"),
        "email": node.get("email"),
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
        "cancelled_at": node.get("cancelledAt"),
        "currency": node.get("currencyCode"),
        "financial_status": node.get("displayFinancialStatus"),
        "fulfillment_status": node.get("displayFulfillmentStatus"),
        "total": _amount(node.get("totalPriceSet")),
        "total_discounts": _amount(node.get("totalDiscountsSet")) or "0",
        "total_tax": _amount(node.get("totalTaxSet")) or "0",
        "lines": lines,
        "lines_complete": not line_info.get("hasNextPage", False),
    }
