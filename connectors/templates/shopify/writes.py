"""Writing prices, stock and promotions through Admin GraphQL mutations, with one result per payload.

Payloads (what the outbound recipes produce):
- prices: ``{sku, price, compare_at_price?}`` → ``productVariantsBulkUpdate`` per product
- inventory: ``{sku, quantity, location_id?}`` → one ``inventorySetQuantities`` ("available", correction)
- promotions: ``{action: create, title, percent | amount, starts_at, ends_at?, skus?, coupon_code?}``
  → ``discountAutomaticBasicCreate`` (or ``discountCodeBasicCreate`` with a coupon code);
  ``{action: deactivate, id}`` → ``discountAutomaticDeactivate`` / ``discountCodeDeactivate``.
Malformed payloads and Shopify's ``userErrors`` fail their own record only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.sdk.results import WriteResult
from connectors.templates.shopify import operations
from connectors.templates.shopify.client import ShopifyGraphql
from connectors.templates.shopify.lookup import VariantRef, variants_by_sku


class PayloadError(ValueError):
    """A payload we cannot send; its message becomes the record's failure reason."""


@dataclass(frozen=True, slots=True)
class Pending:
    index: int
    sku: str | None
    body: dict[str, Any]


def _sku(payload: Mapping[str, Any]) -> str:
    sku = payload.get("sku")
    if not isinstance(sku, str) or not sku.strip():
        raise PayloadError("sku: is required")
    return sku


def _decimal(payload: Mapping[str, Any], name: str, *, required: bool = True) -> str | None:
    value = payload.get(name)
    if value is None:
        if required:
            raise PayloadError(f"{name}: is required")
        return None
    if isinstance(value, bool | float):
        raise PayloadError(f"{name}: must be a decimal string or an integer, not {type(value).__name__}")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise PayloadError(f"{name}: {value!r} is not a number") from None
    if not amount.is_finite():
        raise PayloadError(f"{name}: must be finite")
    return str(amount)


def _one_variant(refs: Mapping[str, list[VariantRef]], sku: str) -> VariantRef:
    found = refs.get(sku, [])
    if not found:
        raise PayloadError(f"sku: no Shopify variant has SKU {sku!r}")
    if len(found) > 1:
        raise PayloadError(f"sku: {len(found)} Shopify variants share SKU {sku!r}")
    return found[0]


def _messages(errors: Sequence[Mapping[str, Any]], *, after: int = -1) -> str:
    """Shopify's userErrors as ``field: message``; ``after`` drops the path up to the record's position,
    so ``["variants", "3", "price"]`` reads ``price`` on the record it belongs to."""
    return "; ".join(
        f"{'.'.join(str(f) for f in (e.get('field') or [])[after + 1 :]) or '(input)'}: {e.get('message')}"
        for e in errors
    )


def _position(error: Mapping[str, Any], at: int) -> int | None:
    """The list index a userError's ``field`` names at position ``at`` (``["variants", "2", "price"]``)."""
    field = error.get("field") or []
    if len(field) > at and str(field[at]).isdigit():
        return int(field[at])
    return None


async def write_prices(client: ShopifyGraphql, payloads: Sequence[Mapping[str, Any]]) -> list[WriteResult]:
    results: dict[int, WriteResult] = {}
    parsed: list[tuple[int, str, dict[str, Any]]] = []
    for index, payload in enumerate(payloads):
        try:
            sku = _sku(payload)
            body: dict[str, Any] = {"price": _decimal(payload, "price")}
            compare_at = _decimal(payload, "compare_at_price", required=False)
            if compare_at is not None:
                body["compareAtPrice"] = compare_at
            parsed.append((index, sku, body))
        except PayloadError as error:
            results[index] = WriteResult.failed(index, str(error), key=payload.get("sku"))
    refs = await variants_by_sku(client, (sku for _, sku, _ in parsed))
    by_product: dict[str, list[Pending]] = {}
    for index, sku, body in parsed:
        try:
            ref = _one_variant(refs, sku)
        except PayloadError as error:
            results[index] = WriteResult.failed(index, str(error), key=sku)
            continue
        by_product.setdefault(ref.product_id, []).append(Pending(index, sku, {"id": ref.variant_id, **body}))
    for product_id, group in by_product.items():
        data = await client.execute(
            operations.UPDATE_PRICES, {"productId": product_id, "variants": [p.body for p in group]}
        )
        errors = data["productVariantsBulkUpdate"]["userErrors"]
        results.update(_group_results(group, errors, at=1))
    return [results[i] for i in range(len(payloads))]


def _group_results(
    group: Sequence[Pending], errors: Sequence[Mapping[str, Any]], *, at: int
) -> dict[int, WriteResult]:
    """Results for a mutation over ``group``: errors naming a position fail that record, others all."""
    general = [e for e in errors if _position(e, at) is None]
    per_position: dict[int, list[Mapping[str, Any]]] = {}
    for error in errors:
        position = _position(error, at)
        if position is not None:
            per_position.setdefault(position, []).append(error)
    results = {}
    for position, pending in enumerate(group):
        own = per_position.get(position, [])
        if own or general:
            reason = "; ".join(m for m in (_messages(own, after=at), _messages(general)) if m)
            results[pending.index] = WriteResult.failed(pending.index, reason, key=pending.sku)
        else:
            results[pending.index] = WriteResult.ok(
                pending.index, key=pending.sku, destination_id=pending.body.get("id")
            )
    return results


async def write_inventory(
    client: ShopifyGraphql, payloads: Sequence[Mapping[str, Any]], default_location: str | None
) -> list[WriteResult]:
    results: dict[int, WriteResult] = {}
    parsed: list[tuple[int, str, int, str]] = []
    for index, payload in enumerate(payloads):
        try:
            sku = _sku(payload)
            quantity = payload.get("quantity")
            if isinstance(quantity, bool) or not isinstance(quantity, int):
                raise PayloadError(f"quantity: must be an integer, got {quantity!r}")
            location = payload.get("location_id") or default_location
            if not isinstance(location, str):
                raise PayloadError("location_id: is required (in the payload or the connection's config)")
            parsed.append((index, sku, quantity, location))
        except PayloadError as error:
            results[index] = WriteResult.failed(index, str(error), key=payload.get("sku"))
    refs = await variants_by_sku(client, (sku for _, sku, _, _ in parsed))
    pending: list[Pending] = []
    for index, sku, quantity, location in parsed:
        try:
            ref = _one_variant(refs, sku)
        except PayloadError as error:
            results[index] = WriteResult.failed(index, str(error), key=sku)
            continue
        # changeFromQuantity null: we are the source of truth for these counts, so no compare-and-swap.
        body = {
            "inventoryItemId": ref.inventory_item_id,
            "locationId": location,
            "quantity": quantity,
            "changeFromQuantity": None,
        }
        pending.append(Pending(index, sku, body))
    # inventorySetQuantities is all-or-nothing: drop the records Shopify names and send the rest again.
    while pending:
        data = await client.execute(
            operations.SET_QUANTITIES,
            {
                "input": {
                    "name": "available",
                    "reason": "correction",
                    "quantities": [p.body for p in pending],
                }
            },
        )
        errors = data["inventorySetQuantities"]["userErrors"]
        if not errors:
            results.update({p.index: WriteResult.ok(p.index, key=p.sku) for p in pending})
            break
        failed = _group_results(pending, errors, at=2)
        named = {p.index for i, p in enumerate(pending) if any(_position(e, 2) == i for e in errors)}
        if not named or any(_position(e, 2) is None for e in errors):
            results.update(failed)
            break
        results.update({i: failed[i] for i in named})
        pending = [p for p in pending if p.index not in named]
    return [results[i] for i in range(len(payloads))]


def _discount_input(payload: Mapping[str, Any], refs: Mapping[str, list[VariantRef]]) -> dict[str, Any]:
    title = payload.get("title")
    if not isinstance(title, str) or not title.strip():
        raise PayloadError("title: is required")
    percent = _decimal(payload, "percent", required=False)
    amount = _decimal(payload, "amount", required=False)
    if (percent is None) == (amount is None):
        raise PayloadError("percent, amount: exactly one is required")
    starts_at = payload.get("starts_at")
    if not isinstance(starts_at, str):
        raise PayloadError("starts_at: is required")
    value: dict[str, Any]
    if percent is not None:
        value = {"percentage": float(Decimal(percent) / 100)}
    else:
        value = {"discountAmount": {"amount": amount, "appliesOnEachItem": False}}
    skus = payload.get("skus") or []
    if skus:
        variants = [_one_variant(refs, str(sku)).variant_id for sku in skus]
        items: dict[str, Any] = {"products": {"productVariantsToAdd": variants}}
    else:
        items = {"all": True}
    discount: dict[str, Any] = {
        "title": title,
        "startsAt": starts_at,
        "endsAt": payload.get("ends_at"),
        "customerGets": {"value": value, "items": items},
        "context": {"all": "ALL"},
    }
    coupon = payload.get("coupon_code")
    if coupon is not None:
        discount["code"] = str(coupon)
    return discount


async def write_promotions(
    client: ShopifyGraphql, payloads: Sequence[Mapping[str, Any]]
) -> list[WriteResult]:
    creating = [p for p in payloads if p.get("action", "create") == "create"]
    refs = await variants_by_sku(client, (str(s) for p in creating for s in p.get("skus") or []))
    results = []
    for index, payload in enumerate(payloads):
        key = payload.get("title") or payload.get("id")
        try:
            destination = await _write_promotion(client, payload, refs)
        except PayloadError as error:
            results.append(WriteResult.failed(index, str(error), key=key))
        else:
            results.append(WriteResult.ok(index, key=key, destination_id=destination))
    return results


async def _write_promotion(
    client: ShopifyGraphql, payload: Mapping[str, Any], refs: Mapping[str, list[VariantRef]]
) -> str:
    """Create or deactivate one discount; returns its node id, raises ``PayloadError`` on userErrors."""
    action = payload.get("action", "create")
    if action == "create":
        discount = _discount_input(payload, refs)
        if "code" in discount:
            data = await client.execute(operations.CREATE_CODE_DISCOUNT, {"discount": discount})
            outcome, node_key = data["discountCodeBasicCreate"], "codeDiscountNode"
        else:
            data = await client.execute(operations.CREATE_AUTOMATIC_DISCOUNT, {"discount": discount})
            outcome, node_key = data["discountAutomaticBasicCreate"], "automaticDiscountNode"
    elif action == "deactivate":
        discount_id = payload.get("id")
        if not isinstance(discount_id, str) or not discount_id.startswith("gid://shopify/Discount"):
            raise PayloadError("id: the discount's global id (returned when it was created) is required")
        if discount_id.startswith("gid://shopify/DiscountCodeNode/"):
            data = await client.execute(operations.DEACTIVATE_CODE_DISCOUNT, {"id": discount_id})
            outcome, node_key = data["discountCodeDeactivate"], "codeDiscountNode"
        else:
            data = await client.execute(operations.DEACTIVATE_AUTOMATIC_DISCOUNT, {"id": discount_id})
            outcome, node_key = data["discountAutomaticDeactivate"], "automaticDiscountNode"
    else:
        raise PayloadError(f"action: must be create or deactivate, not {action!r}")
    if outcome["userErrors"]:
        raise PayloadError(_messages(outcome["userErrors"]))
    return str(outcome[node_key]["id"])
