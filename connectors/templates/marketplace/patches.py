"""Price and inventory payloads turned into Listings Items JSON Patch operations, checked first.

Payloads (recipe output): prices ``{"sku", "amount", "currency"}`` (amount a decimal string or number),
inventory ``{"sku", "quantity"}``. A payload that cannot be sent raises ``PayloadError`` with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.sdk.domains import Domain

_CURRENCY = re.compile(r"^[A-Z]{3}$")


class PayloadError(ValueError):
    """Why one payload cannot be sent; it fails alone."""


@dataclass(frozen=True, slots=True)
class ListingPatch:
    sku: str
    patches: list[dict[str, Any]]


def _sku(payload: Mapping[str, Any]) -> str:
    sku = payload.get("sku")
    if not isinstance(sku, str) or not sku.strip():
        raise PayloadError("sku: is required")
    return sku


def _price_patch(payload: Mapping[str, Any], marketplace_id: str) -> dict[str, Any]:
    raw = payload.get("amount")
    if raw is None or isinstance(raw, bool):
        raise PayloadError("amount: is required")
    try:
        amount = Decimal(str(raw))
    except InvalidOperation:
        raise PayloadError(f"amount: {raw!r} is not a number") from None
    if not amount.is_finite() or amount < 0:
        raise PayloadError(f"amount: {raw!r} must be a number of at least 0")
    currency = payload.get("currency")
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        raise PayloadError(f"currency: {currency!r} is not an ISO 4217 code")
    offer = {
        "marketplace_id": marketplace_id,
        "currency": currency,
        # SP-API takes a JSON number; a two-place decimal survives the float round trip exactly.
        "our_price": [{"schedule": [{"value_with_tax": float(amount)}]}],
    }
    return {"op": "replace", "path": "/attributes/purchasable_offer", "value": [offer]}


def _quantity_patch(payload: Mapping[str, Any]) -> dict[str, Any]:
    quantity = payload.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise PayloadError(f"quantity: {quantity!r} is not a whole number")
    if quantity < 0:
        raise PayloadError(f"quantity: {quantity} must not be negative")
    value = [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}]
    return {"op": "replace", "path": "/attributes/fulfillment_availability", "value": value}


def listing_patch(domain: Domain, payload: Mapping[str, Any], marketplace_id: str) -> ListingPatch:
    """The JSON Patch for one payload of ``domain`` (prices or inventory)."""
    if not isinstance(payload, Mapping):
        raise PayloadError("a payload must be an object")
    sku = _sku(payload)
    if domain is Domain.PRICES:
        return ListingPatch(sku, [_price_patch(payload, marketplace_id)])
    return ListingPatch(sku, [_quantity_patch(payload)])


def issue_text(issues: list[Any]) -> str:
    """SP-API issues (``{"code", "message", "severity"}``) as one line, errors first."""
    parts = []
    for issue in issues:
        if isinstance(issue, Mapping):
            parts.append(f"{issue.get('code', '?')}: {issue.get('message', '')}".strip())
    return "; ".join(parts) or "rejected without a reason"
