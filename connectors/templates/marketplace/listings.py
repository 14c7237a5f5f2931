"""Listings Items API: one PATCH per SKU for small batches, and the seller's listings read page by page."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from connectors.sdk.errors import PermanentError
from connectors.sdk.http import ConnectorHttp
from connectors.sdk.results import ReadPage, WriteResult
from connectors.templates.marketplace.moments import later_of
from connectors.templates.marketplace.patches import ListingPatch, issue_text

LISTINGS = "/listings/2021-08-01/items"
INCLUDED_DATA = "summaries,offers,fulfillmentAvailability"


class Listings:
    def __init__(
        self, http: ConnectorHttp, *, seller_id: str, marketplace_id: str, product_type: str, page_size: int
    ) -> None:
        self._http = http
        self._seller_id, self._marketplace_id = seller_id, marketplace_id
        self._product_type, self._page_size = product_type, page_size

    async def patch_each(self, indexed: Sequence[tuple[int, ListingPatch]]) -> list[WriteResult]:
        """PATCH each listing; SP-API validates each on its own, so each gets its own result."""
        results = []
        for index, item in indexed:
            try:
                body = await self._http.json(
                    "PATCH",
                    f"{LISTINGS}/{self._seller_id}/{item.sku}",
                    params={"marketplaceIds": self._marketplace_id},
                    json={"productType": self._product_type, "patches": item.patches},
                )
            except PermanentError as error:
                results.append(WriteResult.failed(index, error.message, item.sku))
                continue
            if body.get("status") == "ACCEPTED":
                submission = body.get("submissionId")
                results.append(
                    WriteResult(index=index, status="ok", key=item.sku, details={"submission_id": submission})
                )
            else:
                results.append(WriteResult.failed(index, issue_text(body.get("issues", [])), item.sku))
        return results

    async def pages(self, cursor: str | None) -> AsyncIterator[ReadPage]:
        """Listings changed at or after ``cursor`` (all without one); the cursor advances on the last page."""
        base: dict[str, Any] = {
            "marketplaceIds": self._marketplace_id,
            "includedData": INCLUDED_DATA,
            "pageSize": self._page_size,
            "sortBy": "lastUpdatedDate",
            "sortOrder": "ASC",
        }
        if cursor:
            base["lastUpdatedAfter"] = cursor
        params = dict(base)
        newest = cursor
        while True:
            body = await self._http.json("GET", f"{LISTINGS}/{self._seller_id}", params=params)
            items = [item for item in body.get("items", []) if isinstance(item, dict)]
            for item in items:
                for summary in item.get("summaries", []):
                    newest = later_of(newest, summary.get("lastUpdatedDate"))
            next_token = (body.get("pagination") or {}).get("nextToken")
            # Until the last page the starting cursor stands: pages are not promised to come in time order.
            yield ReadPage(records=items, cursor=cursor if next_token else newest)
            if not next_token:
                return
            params = {**base, "pageToken": next_token}
