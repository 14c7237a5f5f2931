"""Square's catalog: items and their variations read page by page, found by SKU, and upserted in batches.

Read records are one per variation (Shelfsync items are per SKU): ``{"item_id", "item_name",
"description", "variation_id", "name", "sku", "price_money", "version", "updated_at", "is_deleted"}``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from connectors.sdk.context import ConnectorContext
from connectors.sdk.domains import Domain
from connectors.sdk.http import ConnectorHttp
from connectors.sdk.results import ReadPage, WriteResult
from connectors.templates.pos.idempotency import idempotency_key
from connectors.templates.pos.payloads import Prepared

SEARCH = "/v2/catalog/search"


def flatten(item: dict[str, Any]) -> list[dict[str, Any]]:
    data = item.get("item_data") or {}
    records = []
    for variation in data.get("variations") or []:
        v = variation.get("item_variation_data") or {}
        records.append(
            {
                "item_id": item.get("id"),
                "item_name": data.get("name"),
                "description": data.get("description"),
                "variation_id": variation.get("id"),
                "name": v.get("name"),
                "sku": v.get("sku"),
                "price_money": v.get("price_money"),
                "version": variation.get("version"),
                "updated_at": variation.get("updated_at") or item.get("updated_at"),
                "is_deleted": bool(item.get("is_deleted") or variation.get("is_deleted")),
            }
        )
    return records


class Catalog:
    def __init__(self, http: ConnectorHttp, context: ConnectorContext, *, page_size: int) -> None:
        self._http, self._context, self._page_size = http, context, page_size

    async def pages(self, cursor: str | None) -> AsyncIterator[ReadPage]:
        """Items changed after ``cursor`` (all without one). The cursor stored is the catalog's
        ``latest_time`` when the read began, so changes made during the read come again next time."""
        body: dict[str, Any] = {"object_types": ["ITEM"], "limit": self._page_size}
        if cursor:
            body |= {"begin_time": cursor, "include_deleted_objects": True}
        started: str | None = None
        while True:
            answer = await self._http.json("POST", SEARCH, json=body)
            started = started or answer.get("latest_time")
            records = [r for item in answer.get("objects") or [] for r in flatten(item)]
            next_cursor = answer.get("cursor")
            yield ReadPage(records=records, cursor=cursor if next_cursor else (started or cursor))
            if not next_cursor:
                return
            body = {**body, "cursor": next_cursor}

    async def by_sku(self, skus: Sequence[str]) -> dict[str, tuple[dict[str, Any], dict[str, Any] | None]]:
        """Existing variations for ``skus``, each with its parent item (``None`` if not returned)."""
        found: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {}
        if not skus:
            return found
        body: dict[str, Any] = {
            "object_types": ["ITEM_VARIATION"],
            "query": {"set_query": {"attribute_name": "sku", "attribute_values": sorted(set(skus))}},
            "include_related_objects": True,
            "limit": self._page_size,
        }
        while True:
            answer = await self._http.json("POST", SEARCH, json=body)
            parents = {o["id"]: o for o in answer.get("related_objects") or [] if o.get("type") == "ITEM"}
            for variation in answer.get("objects") or []:
                data = variation.get("item_variation_data") or {}
                found[str(data.get("sku"))] = (variation, parents.get(str(data.get("item_id"))))
            if not answer.get("cursor"):
                return found
            body = {**body, "cursor": answer["cursor"]}

    async def skus_of(self, object_ids: Sequence[str]) -> dict[str, str]:
        if not object_ids:
            return {}
        answer = await self._http.json(
            "POST", "/v2/catalog/batch-retrieve", json={"object_ids": sorted(set(object_ids))}
        )
        return {
            str(o["id"]): str((o.get("item_variation_data") or {}).get("sku"))
            for o in answer.get("objects") or []
            if o.get("type") == "ITEM_VARIATION"
        }

    async def upsert(self, domain: Domain, prepared: Sequence[Prepared]) -> list[WriteResult]:
        """One batch-upsert for ``prepared``; raises ``PermanentError`` if Square refuses the batch."""
        existing = await self.by_sku([p.sku for p in prepared])
        results: list[WriteResult] = []
        objects: dict[str, dict[str, Any]] = {}
        client_ids: dict[int, str] = {}
        for p in prepared:
            found = existing.get(p.sku)
            if domain is Domain.PRICES:
                if found is None:
                    results.append(
                        WriteResult.failed(p.index, f"no catalog item variation has SKU {p.sku}", p.sku)
                    )
                    continue
                variation = _priced(found[0], p.fields["price_money"])
                objects[variation["id"]] = variation
                client_ids[p.index] = variation["id"]
            else:
                item, variation_id = self._item_object(p, found, objects)
                objects[item["id"]] = item
                client_ids[p.index] = variation_id
        if not objects:
            return results
        body: dict[str, Any] = {"batches": [{"objects": list(objects.values())}]}
        body["idempotency_key"] = idempotency_key(self._context.correlation_id, body)
        answer = await self._http.json("POST", "/v2/catalog/batch-upsert", json=body)
        mapped = {m["client_object_id"]: m["object_id"] for m in answer.get("id_mappings") or []}
        for p in prepared:
            if p.index in client_ids:
                client_id = client_ids[p.index]
                results.append(
                    WriteResult.ok(p.index, p.sku, destination_id=mapped.get(client_id, client_id))
                )
        return sorted(results, key=lambda r: r.index)

    def _item_object(
        self,
        p: Prepared,
        found: tuple[dict[str, Any], dict[str, Any] | None] | None,
        pending: dict[str, dict[str, Any]],
    ) -> tuple[dict[str, Any], str]:
        """The ITEM object carrying ``p``'s variation, merged into one already built for the same item."""
        f = p.fields
        data: dict[str, Any] = {"name": f["variation_name"], "sku": p.sku}
        if f.get("price_money"):
            data |= {"pricing_type": "FIXED_PRICING", "price_money": f["price_money"]}
        parent = found[1] if found is not None else None
        if found is None or parent is None:
            item_id, variation_id = f"#item-{p.index}", f"#variation-{p.index}"
            if "price_money" not in data:
                data["pricing_type"] = "VARIABLE_PRICING"
            variation = {"type": "ITEM_VARIATION", "id": variation_id, "item_variation_data": data}
            item_data = {"name": f["title"], "variations": [variation]}
            if f.get("description") is not None:
                item_data["description"] = f["description"]
            return {"type": "ITEM", "id": item_id, "item_data": item_data}, variation_id
        old_variation = found[0]
        # Square replaces an item's variation list on upsert: keep the siblings as they are.
        item = pending.get(parent["id"]) or {
            "type": "ITEM",
            "id": parent["id"],
            "version": parent["version"],
            "item_data": {**parent["item_data"]},
        }
        item["item_data"]["name"] = f["title"]
        if f.get("description") is not None:
            item["item_data"]["description"] = f["description"]
        old_data = old_variation.get("item_variation_data") or {}
        merged = {**old_data, **data, "item_id": parent["id"]}
        if "price_money" not in data and old_data.get("pricing_type") is None:
            merged["pricing_type"] = "VARIABLE_PRICING"
        replacement = {
            "type": "ITEM_VARIATION",
            "id": old_variation["id"],
            "version": old_variation["version"],
            "item_variation_data": merged,
        }
        siblings = [
            v for v in item["item_data"].get("variations") or [] if v.get("id") != old_variation["id"]
        ]
        item["item_data"]["variations"] = [*siblings, replacement]
        return item, str(old_variation["id"])


def _priced(variation: dict[str, Any], price_money: dict[str, Any]) -> dict[str, Any]:
    data = {**(variation.get("item_variation_data") or {})}
    data |= {"pricing_type": "FIXED_PRICING", "price_money": price_money}
    return {
        "type": "ITEM_VARIATION",
        "id": variation["id"],
        "version": variation["version"],
        "item_variation_data": data,
    }
