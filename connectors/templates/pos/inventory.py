"""Square inventory: IN_STOCK counts read page by page, and absolute counts set as PHYSICAL_COUNT changes.

Read records: ``{"catalog_object_id", "sku", "location_id", "quantity", "state", "calculated_at"}``
(``quantity`` is Square's decimal string; ``sku`` is looked up from the variation).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from connectors.sdk.context import ConnectorContext
from connectors.sdk.http import ConnectorHttp
from connectors.sdk.results import ReadPage, WriteResult
from connectors.templates.pos.catalog import Catalog
from connectors.templates.pos.idempotency import idempotency_key
from connectors.templates.pos.payloads import Prepared


def _later(current: str | None, candidate: Any) -> str | None:
    # Square's RFC 3339 UTC timestamps share one format, so text order is time order.
    if isinstance(candidate, str) and (current is None or candidate > current):
        return candidate
    return current


class Inventory:
    def __init__(
        self,
        http: ConnectorHttp,
        context: ConnectorContext,
        catalog: Catalog,
        *,
        location_id: str | None,
        page_size: int,
    ) -> None:
        self._http, self._context, self._catalog = http, context, catalog
        self._location_id, self._page_size = location_id, page_size

    async def pages(self, cursor: str | None) -> AsyncIterator[ReadPage]:
        """Counts calculated after ``cursor``; the newest ``calculated_at`` is stored with the last page."""
        body: dict[str, Any] = {"states": ["IN_STOCK"], "limit": self._page_size}
        if self._location_id:
            body["location_ids"] = [self._location_id]
        if cursor:
            body["updated_after"] = cursor
        newest = cursor
        while True:
            answer = await self._http.json("POST", "/v2/inventory/batch-retrieve-counts", json=body)
            counts = [c for c in answer.get("counts") or [] if isinstance(c, dict)]
            skus = await self._catalog.skus_of([str(c.get("catalog_object_id")) for c in counts])
            records = []
            for count in counts:
                records.append({**count, "sku": skus.get(str(count.get("catalog_object_id")))})
                newest = _later(newest, count.get("calculated_at"))
            next_cursor = answer.get("cursor")
            yield ReadPage(records=records, cursor=cursor if next_cursor else newest)
            if not next_cursor:
                return
            body = {**body, "cursor": next_cursor}

    async def set_counts(self, prepared: Sequence[Prepared]) -> list[WriteResult]:
        """One batch-create of PHYSICAL_COUNT changes; raises ``PermanentError`` if Square refuses it."""
        existing = await self._catalog.by_sku([p.sku for p in prepared])
        results: list[WriteResult] = []
        changes: list[dict[str, Any]] = []
        sent: list[tuple[Prepared, str]] = []
        occurred = self._context.now().isoformat().replace("+00:00", "Z")
        for p in prepared:
            found = existing.get(p.sku)
            if found is None:
                results.append(
                    WriteResult.failed(p.index, f"no catalog item variation has SKU {p.sku}", p.sku)
                )
                continue
            variation_id = str(found[0]["id"])
            changes.append(
                {
                    "type": "PHYSICAL_COUNT",
                    "physical_count": {
                        "catalog_object_id": variation_id,
                        "location_id": p.fields["location_id"],
                        "quantity": str(p.fields["quantity"]),
                        "state": "IN_STOCK",
                        "occurred_at": p.fields.get("occurred_at") or occurred,
                    },
                }
            )
            sent.append((p, variation_id))
        if changes:
            body: dict[str, Any] = {"changes": changes, "ignore_unchanged_counts": True}
            body["idempotency_key"] = idempotency_key(self._context.correlation_id, body)
            await self._http.json("POST", "/v2/inventory/changes/batch-create", json=body)
            results += [WriteResult.ok(p.index, p.sku, destination_id=v) for p, v in sent]
        return sorted(results, key=lambda r: r.index)
