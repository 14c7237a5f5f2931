"""Write payloads checked before anything is sent, because Square fails a whole batch on one bad object.

Payloads (recipe output): items ``{"sku", "title", "description"?, "variation_name"?, "price_money"?}``,
prices ``{"sku", "price_money": {"amount": <minor units>, "currency"}}``, inventory ``{"sku",
"quantity", "location_id"?}``. A payload that cannot be sent raises ``PayloadError`` with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.sdk.domains import Domain

_CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_SKU_LENGTH = 255


class PayloadError(ValueError):
    """Why one payload cannot be sent; it fails alone."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """A checked payload: its index in the batch, its SKU and the fields the request needs."""

    index: int
    sku: str
    fields: dict[str, Any]


def _sku(payload: Mapping[str, Any]) -> str:
    sku = payload.get("sku")
    if not isinstance(sku, str) or not sku.strip():
        raise PayloadError("sku: is required")
    if len(sku) > MAX_SKU_LENGTH:
        raise PayloadError(f"sku: longer than {MAX_SKU_LENGTH} characters")
    return sku


def _money(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise PayloadError(f"{where}: is required as {{amount, currency}}")
    amount = value.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise PayloadError(f"{where}.amount: {amount!r} is not a whole number of minor units")
    if amount < 0:
        raise PayloadError(f"{where}.amount: must not be negative")
    currency = value.get("currency")
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        raise PayloadError(f"{where}.currency: {currency!r} is not an ISO 4217 code")
    return {"amount": amount, "currency": currency}


def _item(payload: Mapping[str, Any]) -> dict[str, Any]:
    title = payload.get("title")
    if not isinstance(title, str) or not title.strip():
        raise PayloadError("title: is required")
    fields: dict[str, Any] = {"title": title, "variation_name": payload.get("variation_name") or "Regular"}
    if payload.get("description") is not None:
        fields["description"] = str(payload["description"])
    if payload.get("price_money") is not None:
        fields["price_money"] = _money(payload["price_money"], "price_money")
    return fields


def _inventory(payload: Mapping[str, Any], default_location: str | None) -> dict[str, Any]:
    quantity = payload.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise PayloadError(f"quantity: {quantity!r} is not a whole number")
    if quantity < 0:
        raise PayloadError("quantity: must not be negative")
    location = payload.get("location_id") or default_location
    if not isinstance(location, str) or not location:
        raise PayloadError("location_id: is required (none in the payload or the connection config)")
    occurred = payload.get("occurred_at")
    return {"quantity": quantity, "location_id": location, "occurred_at": occurred}


def prepare(domain: Domain, index: int, payload: Any, default_location: str | None) -> Prepared:
    if not isinstance(payload, Mapping):
        raise PayloadError("a payload must be an object")
    sku = _sku(payload)
    if domain is Domain.ITEMS:
        return Prepared(index, sku, _item(payload))
    if domain is Domain.PRICES:
        return Prepared(index, sku, {"price_money": _money(payload.get("price_money"), "price_money")})
    return Prepared(index, sku, _inventory(payload, default_location))
