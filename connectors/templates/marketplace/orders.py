"""Orders API: orders last updated since a cursor, paged by ``NextToken``, each with its order items.

SP-API's ``ItemPrice`` is the line total; each item also gets a derived ``UnitPrice`` (total ÷ quantity)
so recipes can map lines without arithmetic.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.sdk.http import ConnectorHttp
from connectors.sdk.results import ReadPage
from connectors.templates.marketplace.moments import later_of

ORDERS = "/orders/v0/orders"


def with_unit_price(item: dict[str, Any]) -> dict[str, Any]:
    price = item.get("ItemPrice")
    quantity = item.get("QuantityOrdered")
    if not isinstance(price, dict) or not isinstance(quantity, int) or quantity <= 0:
        return item
    try:
        unit = (Decimal(str(price.get("Amount"))) / quantity).quantize(Decimal("0.01"))
    except InvalidOperation:
        return item
    return {**item, "UnitPrice": {"CurrencyCode": price.get("CurrencyCode"), "Amount": str(unit)}}


class Orders:
    def __init__(self, http: ConnectorHttp, *, marketplace_id: str, since: str, page_size: int) -> None:
        self._http, self._marketplace_id = http, marketplace_id
        self._since, self._page_size = since, page_size

    async def _items(self, order_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        params: dict[str, str] = {}
        while True:
            body = await self._http.json("GET", f"{ORDERS}/{order_id}/orderItems", params=params)
            payload = body.get("payload") or {}
            items += [with_unit_price(i) for i in payload.get("OrderItems", []) if isinstance(i, dict)]
            if not payload.get("NextToken"):
                return items
            params = {"NextToken": payload["NextToken"]}

    async def pages(self, cursor: str | None) -> AsyncIterator[ReadPage]:
        """Orders updated at or after ``cursor`` (or the configured start); the cursor is the newest
        ``LastUpdateDate`` seen, stored with the last page only because pages are not in time order."""
        params: dict[str, Any] = {
            "MarketplaceIds": self._marketplace_id,
            "LastUpdatedAfter": cursor or self._since,
            "MaxResultsPerPage": self._page_size,
        }
        newest = cursor
        while True:
            body = await self._http.json("GET", ORDERS, params=params)
            payload = body.get("payload") or {}
            orders = [dict(o) for o in payload.get("Orders", []) if isinstance(o, dict)]
            for order in orders:
                order["OrderItems"] = await self._items(str(order["AmazonOrderId"]))
                newest = later_of(newest, order.get("LastUpdateDate"))
            next_token = payload.get("NextToken")
            yield ReadPage(records=orders, cursor=cursor if next_token else newest)
            if not next_token:
                return
            params = {"MarketplaceIds": self._marketplace_id, "NextToken": next_token}
