"""Writing prices and stock to product variants: SKUs resolved in one query, one bulk update per batch.

``updateProductVariants`` is all-or-nothing, so records are checked and their SKUs resolved first;
if Vendure still rejects the bulk call, each record is sent alone so only the culprit fails.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from connectors.sdk.results import WriteResult
from connectors.templates.vendure import operations
from connectors.templates.vendure.graphql import GraphqlError, VendureGraphql
from connectors.templates.vendure.payloads import PayloadError, check_fields, currency, text, whole

VariantInput = dict[str, Any]
"""An ``UpdateProductVariantInput`` without its ``id``."""


def price_input(payload: Mapping[str, Any]) -> VariantInput:
    """``{sku, price, currencyCode?}``: price in minor units; a currency sets that currency's price."""
    check_fields(payload, frozenset({"sku", "price", "currencyCode"}), frozenset({"sku", "price"}))
    price = whole(payload, "price")
    if payload.get("currencyCode") is None:
        return {"price": price}
    return {"prices": [{"currencyCode": currency(payload, "currencyCode"), "price": price}]}


def stock_input(payload: Mapping[str, Any], locations: Mapping[str, str]) -> VariantInput:
    """``{sku, stockOnHand, stockLocationId? | stockLocation?}``: an absolute count, at one location
    (by id or by name; ``locations`` maps both to ids) when given, else at the default one."""
    check_fields(
        payload,
        frozenset({"sku", "stockOnHand", "stockLocationId", "stockLocation"}),
        frozenset({"sku", "stockOnHand"}),
    )
    on_hand = whole(payload, "stockOnHand")
    wanted = payload.get("stockLocationId") or payload.get("stockLocation")
    if wanted is None:
        return {"stockOnHand": on_hand}
    # Checked here because Vendure 3.7 stores a stock level for an unknown location id and then
    # fails every read of that variant's stock.
    location = locations.get(str(wanted))
    if location is None:
        raise PayloadError(f"no Vendure stock location has id or name {wanted!r}")
    return {"stockLevels": [{"stockLocationId": location, "stockOnHand": on_hand}]}


async def stock_locations(graphql: VendureGraphql, payloads: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Stock location id by id and by name, fetched only when a payload names a location."""
    if not any(
        isinstance(p, Mapping) and (p.get("stockLocationId") or p.get("stockLocation")) for p in payloads
    ):
        return {}
    data = await graphql.execute(operations.STOCK_LOCATIONS, operation="stockLocations")
    found: dict[str, str] = {}
    for location in data["stockLocations"]["items"]:
        found[location["name"]] = location["id"]
        found[location["id"]] = location["id"]
    return found


async def variant_ids(graphql: VendureGraphql, skus: Sequence[str]) -> dict[str, str]:
    """Variant id by SKU for those of ``skus`` that exist, in one query."""
    unique = sorted(set(skus))
    if not unique:
        return {}
    data = await graphql.execute(
        operations.VARIANTS_BY_SKU, {"skus": unique, "take": len(unique)}, operation="variant lookup by SKU"
    )
    return {item["sku"]: item["id"] for item in data["productVariants"]["items"]}


async def write_variants(
    graphql: VendureGraphql,
    payloads: Sequence[Mapping[str, Any]],
    build: Callable[[Mapping[str, Any]], VariantInput],
) -> list[WriteResult]:
    results: dict[int, WriteResult] = {}
    pending: list[tuple[int, str, VariantInput]] = []
    for index, payload in enumerate(payloads):
        key = payload.get("sku") if isinstance(payload.get("sku"), str) else None
        try:
            if not isinstance(payload, Mapping):
                raise PayloadError(f"a payload must be an object, got {type(payload).__name__}")
            partial = build(payload)
            pending.append((index, text(payload, "sku"), partial))
        except PayloadError as error:
            results[index] = WriteResult.failed(index, str(error), key)
    ids = await variant_ids(graphql, [sku for _, sku, _ in pending])
    updates: list[tuple[int, str, VariantInput]] = []
    for index, sku, partial in pending:
        if sku not in ids:
            results[index] = WriteResult.failed(index, f"no Vendure product variant has SKU {sku!r}", sku)
        else:
            updates.append((index, sku, {"id": ids[sku], **partial}))
    if updates:
        results.update(await _update(graphql, updates))
    return [results[index] for index in range(len(payloads))]


async def _update(
    graphql: VendureGraphql, updates: list[tuple[int, str, VariantInput]]
) -> dict[int, WriteResult]:
    try:
        await graphql.execute(
            operations.UPDATE_PRODUCT_VARIANTS,
            {"input": [variant for _, _, variant in updates]},
            operation="updateProductVariants",
        )
    except GraphqlError as error:
        if len(updates) == 1:
            index, sku, _ = updates[0]
            return {index: WriteResult.failed(index, error.message, sku)}
        # One bad record fails the whole mutation: send each alone to find out which.
        results: dict[int, WriteResult] = {}
        for update in updates:
            results.update(await _update(graphql, [update]))
        return results
    return {index: WriteResult.ok(index, sku, variant["id"]) for index, sku, variant in updates}
